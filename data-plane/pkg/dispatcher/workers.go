package dispatcher

import (
	"sync"
	"sync/atomic"
)

// workerPool runs deliveries on goroutines that outlive them. A goroutine per delivery starts
// with a small stack and grows it through net/http's deep calls every time (stack copies and
// goroutine creation were about 3 % of the dispatcher's CPU draining 200,000 deliveries to 1,000
// Triggers); a worker that finished its delivery waits for the next one instead, with the stack
// it already grew.
//
// Partition workers are not run here: there are many more of them (one per busy partition and
// lane), each needs little stack, and on the deliveries' grown stacks they raised the drain's peak
// RSS at 1,000 Triggers by about 30 MiB for no gain in speed.
//
// At most maxIdle workers wait at a time; the others exit, so a burst leaves no more goroutines
// behind than that. Waiting workers hold no timer and no ticker; the garbage collector shrinks
// their stacks as it does any idle goroutine's. A nil *workerPool runs each function on a
// goroutine of its own.
type workerPool struct {
	// jobs is unbuffered: a send succeeds only when a worker is waiting.
	jobs    chan func()
	done    chan struct{}
	idle    atomic.Int32
	maxIdle int32
	once    sync.Once
	// spawned counts the goroutines started (tests).
	spawned atomic.Int64
}

// maxIdleWorkers bounds the workers waiting for work across the process: enough for the
// deliveries in flight to keep finding one under load (a worker waits only between two of them),
// and at most a few MiB of parked stacks after a burst.
const maxIdleWorkers = 256

func newWorkerPool(maxIdle int) *workerPool {
	return &workerPool{jobs: make(chan func()), done: make(chan struct{}), maxIdle: int32(max(maxIdle, 0))}
}

// run runs f on a waiting worker, or on a new one when none waits. It never blocks.
func (w *workerPool) run(f func()) {
	if w == nil {
		go f()
		return
	}
	select {
	case w.jobs <- f:
	default:
		w.spawned.Add(1)
		go w.work(f)
	}
}

func (w *workerPool) work(f func()) {
	for {
		f()
		f = nil // let what f held go while waiting
		if w.idle.Add(1) > w.maxIdle {
			w.idle.Add(-1)
			return
		}
		select {
		case f = <-w.jobs:
			w.idle.Add(-1)
		case <-w.done:
			w.idle.Add(-1)
			return
		}
	}
}

// close makes waiting workers exit; a function run afterwards still runs, on a goroutine that
// exits after it.
func (w *workerPool) close() {
	if w == nil {
		return
	}
	w.once.Do(func() { close(w.done) })
}

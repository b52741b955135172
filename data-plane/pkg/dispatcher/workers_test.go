package dispatcher

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkerPoolReusesWaitingWorkers runs functions one after another and checks they ran on one
// worker, then runs a burst and checks every function ran and at most maxIdle workers stayed.
func TestWorkerPoolReusesWaitingWorkers(t *testing.T) {
	w := newWorkerPool(4)
	defer w.close()
	var ran atomic.Int64
	for i := range 50 {
		done := make(chan struct{})
		w.run(func() { ran.Add(1); close(done) })
		<-done
		// Let the worker reach its wait before the next run; a run that comes while it is between
		// counting itself idle and waiting starts a second one, which is allowed.
		waitFor(t, func() bool { return w.idle.Load() >= 1 }, "the worker of run %d to wait", i)
		time.Sleep(100 * time.Microsecond)
	}
	if got := ran.Load(); got != 50 {
		t.Fatalf("ran %d functions, want 50", got)
	}
	if got := w.spawned.Load(); got > 5 {
		t.Fatalf("started %d goroutines for 50 functions run one after another, want the waiting ones reused", got)
	}

	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 100 {
		wg.Add(1)
		w.run(func() { defer wg.Done(); <-release; ran.Add(1) })
	}
	close(release)
	wg.Wait()
	if got := ran.Load(); got != 150 {
		t.Fatalf("ran %d functions, want 150", got)
	}
	waitFor(t, func() bool { return w.idle.Load() <= 4 }, "idle workers to shrink to 4")
	if got := w.idle.Load(); got > 4 {
		t.Fatalf("%d workers wait, want at most 4", got)
	}
}

// TestWorkerPoolCloseEndsWaitingWorkers checks that close lets every waiting worker exit and that
// a function run after close still runs.
func TestWorkerPoolCloseEndsWaitingWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	w := newWorkerPool(64)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 32 {
		wg.Add(1)
		w.run(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	waitFor(t, func() bool { return w.idle.Load() == 32 }, "32 workers to wait")
	w.close()
	waitFor(t, func() bool { return runtime.NumGoroutine() < before+8 }, "waiting workers to exit after close")
	done := make(chan struct{})
	w.run(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a function run after close did not run")
	}
}

// TestNilWorkerPoolRunsEachOnItsOwn checks the fallback unit tests use.
func TestNilWorkerPoolRunsEachOnItsOwn(t *testing.T) {
	var w *workerPool
	done := make(chan struct{})
	w.run(func() { close(done) })
	<-done
	w.close()
}

func waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+what, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

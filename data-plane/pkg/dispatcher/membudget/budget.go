// Package membudget bounds the bytes of fetched records a process holds across many consumers.
//
// A Budget is shared by the whole dispatcher; every consumer (an egress today, a reader shared by
// many egresses later) opens an Account on it. A consumer acquires the bytes of a record before it
// hands the record on and releases them once the record is finished; when it cannot acquire, it
// stops fetching and waits for the channel Acquire returned instead of growing.
//
// Admission rules, in order:
//
//   - An account that holds nothing is always admitted one record, whatever the budget holds, so
//     that a record larger than what is left (or than the whole budget) still makes progress, and
//     an egress beside stuck ones still delivers one record at a time. This is the only way the
//     bytes held can pass the limit, and each account holds at most one such record at a time:
//     Used never exceeds Limit plus one record per account.
//   - Otherwise an account is admitted while the budget stays within its limit and the account
//     within its share: the per-account cap, and no more than an equal part of the limit among the
//     accounts that hold bytes or wait for them. An account above its share (say, one that filled
//     the budget while it was alone) is admitted nothing more until it released enough, so the
//     bytes it frees go to the others; what it holds it keeps — a record handed on cannot be taken
//     back — but never more than the cap.
package membudget

import (
	"slices"
	"sync"
)

// Budget is a limit on bytes held, shared by accounts. Its methods are safe for concurrent use.
type Budget struct {
	limit   int64
	cap     int64
	observe func(used int64)

	mu     sync.Mutex
	used   int64
	peak   int64
	active int // accounts holding bytes or waiting for them
	// smallWants counts the waiters whose want is below 1 (see wakeAdmittedAfter).
	smallWants int
	// waiters are the accounts refused since they were last woken, in the order they were.
	waiters []*Account
}

// New returns a Budget of limit bytes (at least 1) whose accounts may each hold at most perAccount
// bytes (limit when perAccount is not positive or larger). observe, when not nil, is called with
// the bytes in use after every change, under the Budget's lock: keep it short (a gauge's Set).
func New(limit, perAccount int64, observe func(used int64)) *Budget {
	limit = max(limit, 1)
	if perAccount <= 0 || perAccount > limit {
		perAccount = limit
	}
	return &Budget{limit: limit, cap: perAccount, observe: observe}
}

// Limit is the budget's limit in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// PerAccount is the most bytes one account may hold (beyond its one progress record).
func (b *Budget) PerAccount() int64 { return b.cap }

// Used reports the bytes held by all accounts.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak reports the most bytes held at once since the Budget was created.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Open returns a new account holding nothing, capped at PerAccount.
func (b *Budget) Open() *Account { return &Account{b: b, wake: make(chan struct{}, 1)} }

// OpenWithCap returns a new account holding nothing whose cap is capBytes (the whole limit when
// not positive or larger) instead of PerAccount: for a consumer that feeds many egresses at once,
// such as a reader shared by every Trigger of a Broker. The equal-share rule still applies to it.
func (b *Budget) OpenWithCap(capBytes int64) *Account {
	if capBytes <= 0 || capBytes > b.limit {
		capBytes = b.limit
	}
	return &Account{b: b, cap: capBytes, wake: make(chan struct{}, 1)}
}

// Account is one consumer's part of a Budget. A nil *Account admits everything and holds
// nothing, for consumers run without a budget. Its methods are safe for concurrent use.
type Account struct {
	b       *Budget
	cap     int64 // the account's own cap; 0 means the Budget's PerAccount
	held    int64 // guarded by b.mu
	waiting bool  // guarded by b.mu: the last Acquire was refused
	queued  bool  // guarded by b.mu: a is in b.waiters
	want    int64 // guarded by b.mu: what the refused Acquire asked for
	closed  bool  // guarded by b.mu
	wake    chan struct{}
}

// isActive says whether a counts towards the accounts sharing the limit. Call with b.mu held.
func (a *Account) isActive() bool { return !a.closed && (a.held > 0 || a.waiting) }

// setState changes a's holdings and waiting flag, keeping the Budget's totals. Call with b.mu held.
func (a *Account) setState(held int64, waiting bool) {
	b := a.b
	was := a.isActive()
	b.used += held - a.held
	a.held, a.waiting = held, waiting
	if now := a.isActive(); now != was {
		if now {
			b.active++
		} else {
			b.active--
		}
	}
	b.peak = max(b.peak, b.used)
	if b.observe != nil {
		b.observe(b.used)
	}
}

// share is what account a, when active, may hold under the sharing rule. Call with b.mu held.
func (b *Budget) share(a *Account) int64 {
	c := b.cap
	if a.cap > 0 {
		c = a.cap
	}
	return min(c, b.limit/int64(max(b.active, 1)))
}

// admits says whether a may take n more bytes now. Call with b.mu held.
func (b *Budget) admits(a *Account, n int64) bool {
	return a.held == 0 || (b.used+n <= b.limit && a.held+n <= b.share(a))
}

// Acquire takes n bytes (one record) for a and reports whether it could. When it could not, the
// returned channel receives once releases or departures would admit n bytes and more — a quarter
// of a's share, or anything once a holds nothing — and trying again may still fail if someone
// else took them first. a counts as waiting until it is admitted or calls StopWaiting, which
// shrinks the others' share. The channel wakes one waiter: goroutines sharing an account take
// turns at waiting on it.
func (a *Account) Acquire(n int64) (ok bool, retry <-chan struct{}) {
	if a == nil {
		return true, nil
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.closed {
		// A stopped consumer hands nothing on; admit without accounting rather than block it.
		return true, nil
	}
	if !a.isActive() {
		// Count a among the sharers before computing the share it competes for.
		a.setState(a.held, true)
	}
	if b.admits(a, n) {
		b.unqueue(a)
		a.setState(a.held+n, false)
		return true, nil
	}
	a.setState(a.held, true)
	// Wake a only once it can take a good part of its share, not for every record's worth: a
	// waiting consumer fetches again when woken, and fetching to admit a few records is waste.
	if a.queued && a.want < 1 {
		b.smallWants--
	}
	a.want = max(n, b.share(a)/4)
	if a.want < 1 {
		b.smallWants++
	}
	if !a.queued {
		a.queued = true
		b.waiters = append(b.waiters, a)
	}
	return false, a.wake
}

// unqueue removes a from the waiters. Call with b.mu held.
func (b *Budget) unqueue(a *Account) {
	if !a.queued {
		return
	}
	if i := slices.Index(b.waiters, a); i >= 0 {
		b.waiters = slices.Delete(b.waiters, i, i+1)
	}
	b.dequeued(a)
}

// dequeued notes that a left the waiters. Call with b.mu held.
func (b *Budget) dequeued(a *Account) {
	a.queued = false
	if a.want < 1 {
		b.smallWants--
	}
}

// Release gives back n bytes acquired earlier.
func (a *Account) Release(n int64) {
	if a == nil || n == 0 {
		return
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.closed {
		return
	}
	a.setState(max(a.held-n, 0), a.waiting)
	b.wakeAdmittedAfter(a)
}

// StopWaiting says a no longer wants the bytes an Acquire was refused (its records were dropped,
// say, with a revoked partition), so that it stops counting among the accounts sharing the limit.
func (a *Account) StopWaiting() {
	if a == nil {
		return
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.closed || !a.waiting {
		return
	}
	a.setState(a.held, false)
	b.unqueue(a)
	b.wakeAdmitted()
}

// Held reports the bytes a holds.
func (a *Account) Held() int64 {
	if a == nil {
		return 0
	}
	a.b.mu.Lock()
	defer a.b.mu.Unlock()
	return a.held
}

// Close releases whatever a still holds and stops its waiting; later Acquires admit without
// accounting and Releases do nothing. It returns the bytes it released, which is 0 when every
// acquired byte was released before (anything else is a leak in the caller).
func (a *Account) Close() int64 {
	if a == nil {
		return 0
	}
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.closed {
		return 0
	}
	leaked := a.held
	a.setState(0, false)
	a.closed = true
	b.unqueue(a)
	b.wakeAdmitted()
	return leaked
}

// wakeAdmitted wakes, in the order they were refused, the waiting accounts that the budget would
// admit now, and forgets them as waiters until they are refused again. Call with b.mu held.
func (b *Budget) wakeAdmitted() { b.wakeAdmittedAfter(nil) }

// wakeAdmittedAfter is wakeAdmitted after released gave bytes back (nil: after anything else).
//
// It skips the scan of every waiter when the scan cannot admit any but released: a waiter was
// refused, so it held something then (an account holding nothing is always admitted), and only
// its own Release — which wakes it when it holds nothing — makes that 0 again; so every waiter but
// released holds at least 1 and wants at least 1 (smallWants counts the exceptions), and admitting
// it needs a share of at least 2. With 1,000 egresses sharing a bound of 1,000 deliveries the
// share is 1, and hundreds of waiters were scanned on every delivery's release.
func (b *Budget) wakeAdmittedAfter(released *Account) {
	if b.smallWants == 0 && b.limit/int64(max(b.active, 1)) < 2 {
		if released != nil && released.queued && b.admits(released, released.want) {
			b.unqueue(released)
			select {
			case released.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	kept := b.waiters[:0]
	for _, a := range b.waiters {
		if !b.admits(a, a.want) {
			kept = append(kept, a)
			continue
		}
		b.dequeued(a)
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

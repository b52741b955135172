package membudget

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func mustAcquire(t *testing.T, a *Account, n int64) {
	t.Helper()
	if ok, _ := a.Acquire(n); !ok {
		t.Fatalf("Acquire(%d) refused with %d held of %d used", n, a.Held(), a.b.Used())
	}
}

func mustRefuse(t *testing.T, a *Account, n int64) <-chan struct{} {
	t.Helper()
	ok, retry := a.Acquire(n)
	if ok {
		t.Fatalf("Acquire(%d) admitted with %d held of %d used", n, a.Held(), a.b.Used())
	}
	if retry == nil {
		t.Fatal("a refusal without a retry channel")
	}
	return retry
}

func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAcquireWithinLimitAndRelease(t *testing.T) {
	var observed int64
	b := New(100, 0, func(u int64) { observed = u })
	a := b.Open()
	mustAcquire(t, a, 60)
	mustAcquire(t, a, 40)
	if b.Used() != 100 || a.Held() != 100 || observed != 100 {
		t.Fatalf("used %d, held %d, observed %d; want 100", b.Used(), a.Held(), observed)
	}
	retry := mustRefuse(t, a, 1)
	a.Release(60)
	if !woken(retry) {
		t.Fatal("a release that makes room did not wake the waiter")
	}
	mustAcquire(t, a, 1)
	a.Release(41)
	if b.Used() != 0 || observed != 0 || b.Peak() != 100 {
		t.Fatalf("used %d, observed %d, peak %d; want 0, 0, 100", b.Used(), observed, b.Peak())
	}
}

func TestAnAccountHoldingNothingIsAdmittedOneRecordBeyondTheLimit(t *testing.T) {
	b := New(100, 0, nil)
	stuck, fast := b.Open(), b.Open()
	mustAcquire(t, stuck, 50)
	mustAcquire(t, stuck, 50) // alone, stuck may hold the whole limit
	// A record larger than the whole budget still goes, for an account holding nothing.
	mustAcquire(t, fast, 500)
	mustRefuse(t, fast, 1)
	if got := b.Used(); got != 600 {
		t.Fatalf("used %d, want 600", got)
	}
	fast.Release(500)
	mustAcquire(t, fast, 10)
	if got := b.Used(); got != 110 {
		t.Fatalf("used %d, want 110", got)
	}
}

func TestShareAmongActiveAccounts(t *testing.T) {
	b := New(1000, 0, nil)
	big, small := b.Open(), b.Open()
	for range 9 {
		mustAcquire(t, big, 100)
	}
	// small arrives: the share is now 500 each; big is above it and gets nothing more, even with
	// room left in the budget, while small gets up to its share.
	mustAcquire(t, small, 100)
	mustRefuse(t, big, 10)
	mustRefuse(t, small, 10) // the limit is reached: 900 + 100
	big.Release(400)
	mustAcquire(t, small, 400) // small: 500 = its share
	retry := mustRefuse(t, small, 1)
	mustRefuse(t, big, 10) // big holds 500: at its share
	small.Release(500)
	if !woken(retry) {
		t.Fatal("small, refused, was not woken by its own release")
	}
	// small holds nothing and no longer waits: big is alone and may grow to the limit again.
	small.StopWaiting()
	mustAcquire(t, big, 500)
}

func TestPerAccountCap(t *testing.T) {
	b := New(1000, 300, nil)
	if b.PerAccount() != 300 {
		t.Fatalf("per account %d, want 300", b.PerAccount())
	}
	a := b.Open()
	mustAcquire(t, a, 200)
	mustAcquire(t, a, 100)
	mustRefuse(t, a, 1)
	other := b.Open()
	for range 3 {
		mustAcquire(t, other, 100)
	}
	mustRefuse(t, other, 1)
}

func TestAccountWithItsOwnCap(t *testing.T) {
	b := New(1000, 100, nil)
	shared := b.OpenWithCap(0) // the whole limit, as a shared reader's
	for range 9 {
		mustAcquire(t, shared, 100)
	}
	mustAcquire(t, shared, 100)
	mustRefuse(t, shared, 1) // the limit, not the per-account cap, stops it
	shared.Close()

	capped := b.OpenWithCap(250)
	mustAcquire(t, capped, 200)
	mustRefuse(t, capped, 100)
	capped.Close()
	// The equal share still applies: beside one other active account, it gets half the limit.
	reader := b.OpenWithCap(0)
	other := b.Open()
	mustAcquire(t, other, 50)
	for range 5 {
		mustAcquire(t, reader, 100)
	}
	mustRefuse(t, reader, 1)
}

func TestWakesOnlyWaitersTheBudgetWouldAdmit(t *testing.T) {
	b := New(100, 0, nil)
	holder, w1, w2 := b.Open(), b.Open(), b.Open()
	mustAcquire(t, holder, 60)
	mustAcquire(t, w1, 20)
	mustAcquire(t, w2, 10)
	// Three sharers: 33 each.
	r1 := mustRefuse(t, w1, 15) // 35 would pass its share
	r2 := mustRefuse(t, w2, 15) // within its share, but 105 would pass the limit
	holder.Release(10)
	if woken(r1) {
		t.Fatal("w1 woken although its share does not allow it")
	}
	if !woken(r2) {
		t.Fatal("w2 not woken although its 15 bytes fit now")
	}
	mustAcquire(t, w2, 15)
	holder.Release(50) // holder leaves the sharers: 50 each
	if !woken(r1) {
		t.Fatal("w1 not woken once its share allows it")
	}
	mustAcquire(t, w1, 15)
}

func TestCloseReleasesWhatIsLeftAndWakes(t *testing.T) {
	b := New(100, 0, nil)
	gone, w := b.Open(), b.Open()
	mustAcquire(t, gone, 100)
	mustAcquire(t, w, 1)
	retry := mustRefuse(t, w, 10)
	if leaked := gone.Close(); leaked != 100 {
		t.Fatalf("Close released %d, want 100", leaked)
	}
	if !woken(retry) {
		t.Fatal("a closing account did not wake the waiter")
	}
	if b.Used() != 1 {
		t.Fatalf("used %d, want 1", b.Used())
	}
	gone.Release(100) // after Close: nothing
	if ok, _ := gone.Acquire(1000); !ok || b.Used() != 1 {
		t.Fatalf("a closed account's Acquire: ok %v, used %d; want true, 1", ok, b.Used())
	}
	if leaked := w.Close(); leaked != 1 {
		t.Fatalf("Close released %d, want 1", leaked)
	}
}

func TestNilAccountAdmitsEverything(t *testing.T) {
	var a *Account
	if ok, _ := a.Acquire(1 << 40); !ok {
		t.Fatal("a nil account refused")
	}
	a.Release(1)
	a.StopWaiting()
	if a.Held() != 0 || a.Close() != 0 {
		t.Fatal("a nil account holds something")
	}
}

// TestConcurrentConsumersStayWithinTheBound runs consumers that acquire records as a source does
// (waiting when refused) and release them after a while, and checks the bound: the limit plus one
// record per account.
func TestConcurrentConsumersStayWithinTheBound(t *testing.T) {
	const (
		limit     = 10_000
		accounts  = 50
		records   = 200
		maxRecord = 500
	)
	b := New(limit, 2_000, nil)
	var wg sync.WaitGroup
	for i := range accounts {
		a := b.Open()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			var inFlight sync.WaitGroup
			for range records {
				n := int64(1 + rng.IntN(maxRecord))
				for {
					ok, retry := a.Acquire(n)
					if ok {
						break
					}
					select {
					case <-retry:
					case <-time.After(10 * time.Second):
						t.Errorf("account %d waited 10s for %d bytes: a lost wake-up", i, n)
						return
					}
				}
				hold := time.Duration(rng.IntN(200)) * time.Microsecond
				inFlight.Add(1)
				go func() {
					defer inFlight.Done()
					time.Sleep(hold)
					a.Release(n)
				}()
			}
			inFlight.Wait()
			if leaked := a.Close(); leaked != 0 {
				t.Errorf("account %d still held %d", i, leaked)
			}
		}()
	}
	wg.Wait()
	if b.Used() != 0 {
		t.Fatalf("used %d after every release", b.Used())
	}
	if peak, bound := b.Peak(), int64(limit+accounts*maxRecord); peak > bound {
		t.Fatalf("peak %d above the bound %d", peak, bound)
	}
	t.Logf("peak %d of limit %d", b.Peak(), limit)
}

// TestReleaseWakesOnlyWhomItAdmitsWithAShareOfOne covers the release path that skips scanning the
// waiters (a share below 2): the releasing account that now holds nothing is woken, the others
// holding their share are not, and once departures raise the share the waiters it admits are
// woken again.
func TestReleaseWakesOnlyWhomItAdmitsWithAShareOfOne(t *testing.T) {
	b := New(4, 0, nil)
	as := []*Account{b.Open(), b.Open(), b.Open(), b.Open()}
	var retry []<-chan struct{}
	for _, a := range as {
		mustAcquire(t, a, 1)
	}
	for _, a := range as {
		retry = append(retry, mustRefuse(t, a, 1)) // a share of 4/4 = 1, each holds 1
	}
	as[0].Release(1)
	if !woken(retry[0]) {
		t.Fatal("the account that released everything was not woken")
	}
	for i := 1; i < 4; i++ {
		if woken(retry[i]) {
			t.Fatalf("account %d was woken though its share of 1 is held", i)
		}
	}
	as[0].StopWaiting() // 3 active: a share of 1 still
	for i := 1; i < 4; i++ {
		if woken(retry[i]) {
			t.Fatalf("account %d was woken though its share of 1 is held", i)
		}
	}
	if leaked := as[1].Close(); leaked != 1 {
		t.Fatalf("Close released %d, want 1", leaked)
	}
	// Two active accounts now share 4: each may hold 2, and both are woken.
	for i := 2; i < 4; i++ {
		if !woken(retry[i]) {
			t.Fatalf("account %d was not woken with a share of 2", i)
		}
		mustAcquire(t, as[i], 1)
	}
}

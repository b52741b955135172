//go:build !soak

package fault

// dispatcherKillEvents is the stream TestDispatcherKilledEveryFewSeconds sends in make test;
// make soak (the soak tag) sends 50,000.
const dispatcherKillEvents = 10_000

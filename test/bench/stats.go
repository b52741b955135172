package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarizes a latency distribution in milliseconds (exact percentiles of all samples).
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
}

// summarize sorts d in place and returns its percentiles.
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	return Latency{Count: len(d), P50: ms(quantile(d, 0.5)), P90: ms(quantile(d, 0.9)),
		P99: ms(quantile(d, 0.99)), P999: ms(quantile(d, 0.999)), Max: ms(d[len(d)-1])}
}

// quantile returns the q-quantile of sorted d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

// round rounds v to n decimals.
func round(v float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(v*p) / p
}

// median returns the median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// perSecond divides n by seconds, 0 when seconds is not positive.
func perSecond(n, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return round(n/seconds, 1)
}

package delivery

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

// MaxBackoff caps every delay Backoff returns, so that a large retry count with exponential
// backoff cannot overflow or park a partition for days. Knative itself sets no cap.
const MaxBackoff = time.Hour

// IsRetryable reports whether a delivery that ended with statusCode (0 when there was no
// response) and err should be retried, following Knative's SelectiveRetry: network errors
// (including a per-attempt timeout), 5xx, 404, 408, 409 and 429 retry; 2xx, 3xx and other 4xx do
// not. context.Canceled does not retry: it means the caller is shutting down.
func IsRetryable(statusCode int, err error) bool {
	if err != nil && statusCode <= 0 {
		return !errors.Is(err, context.Canceled)
	}
	switch statusCode {
	case http.StatusNotFound, // a pod still becoming ready
		http.StatusRequestTimeout,
		http.StatusConflict,
		http.StatusTooManyRequests:
		return true
	}
	return statusCode <= 0 || statusCode >= 500 // no response at all, or a server error

}

// Backoff returns the delay before retry n (1-based) for policy and delay, capped at MaxBackoff:
// linear is delay*n, exponential (also the default for an empty policy) is delay*2^(n-1).
//
// Exponential matches knative.dev/eventing's kncloudevents, which computes delay*2^attempt with
// go-retryablehttp's 0-based attempt number, so the first retry waits delay. For linear, eventing
// computes delay*attempt with the same 0-based number (the first retry waits 0); we follow the
// DeliverySpec documentation ("backoffDelay*<numberOfRetries>") instead, so the first retry waits
// delay under both policies.
func Backoff(policy contract.BackoffPolicy, delay time.Duration, n int) time.Duration {
	if delay <= 0 || n <= 0 {
		return 0
	}
	if delay >= MaxBackoff {
		return MaxBackoff
	}
	var factor int64
	if policy == contract.BackoffLinear {
		factor = int64(n)
	} else {
		if n-1 >= 62 {
			return MaxBackoff
		}
		factor = int64(1) << (n - 1)
	}
	if factor > int64(MaxBackoff/delay) {
		return MaxBackoff
	}
	return delay * time.Duration(factor)
}

// retryAfter returns how long a 429 or 503 response's Retry-After header (delay-seconds or an
// HTTP-date, relative to now) asks to wait, bounded by limit. It returns 0 when limit is 0 or
// less (Retry-After is ignored, as in Knative before the feature is GA), for other statuses, and
// for a missing or unparsable header.
func retryAfter(statusCode int, header string, limit time.Duration, now time.Time) time.Duration {
	if limit <= 0 || header == "" ||
		(statusCode != http.StatusTooManyRequests && statusCode != http.StatusServiceUnavailable) {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(header, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= int64(limit/time.Second)+1 {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(header); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"knkafka.dev/control-plane/pkg/contract"
)

func TestIsRetryable(t *testing.T) {
	netErr := errors.New("connection refused")
	tests := []struct {
		code int
		err  error
		want bool
	}{
		{0, netErr, true},
		{0, fmt.Errorf("sending event: %w", context.DeadlineExceeded), true},
		{0, fmt.Errorf("sending event: %w", context.Canceled), false},
		{0, nil, true},
		{200, nil, false},
		{202, nil, false},
		{204, nil, false},
		{300, nil, false},
		{307, nil, false},
		{400, nil, false},
		{401, nil, false},
		{403, nil, false},
		{404, nil, true},
		{405, nil, false},
		{408, nil, true},
		{409, nil, true},
		{410, nil, false},
		{413, nil, false},
		{415, nil, false},
		{422, nil, false},
		{429, nil, true},
		{500, nil, true},
		{502, errors.New("unexpected response status 502"), true},
		{503, nil, true},
		{504, nil, true},
		{599, nil, true},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.code, tt.err); got != tt.want {
			t.Errorf("IsRetryable(%d, %v) = %v, want %v", tt.code, tt.err, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name   string
		policy contract.BackoffPolicy
		delay  time.Duration
		n      int
		want   time.Duration
	}{
		{"linear first", contract.BackoffLinear, s, 1, s},
		{"linear second", contract.BackoffLinear, s, 2, 2 * s},
		{"linear fifth", contract.BackoffLinear, 200 * time.Millisecond, 5, s},
		{"exponential first", contract.BackoffExponential, s, 1, s},
		{"exponential second", contract.BackoffExponential, s, 2, 2 * s},
		{"exponential third", contract.BackoffExponential, s, 3, 4 * s},
		{"exponential tenth", contract.BackoffExponential, 10 * time.Millisecond, 10, 5120 * time.Millisecond},
		{"empty policy is exponential", "", s, 3, 4 * s},
		{"exponential capped", contract.BackoffExponential, s, 13, MaxBackoff},
		{"exponential huge n capped", contract.BackoffExponential, time.Nanosecond, 1000, MaxBackoff},
		{"linear capped", contract.BackoffLinear, time.Minute, 61, MaxBackoff},
		{"linear huge n capped", contract.BackoffLinear, time.Minute, 1 << 40, MaxBackoff},
		{"delay over cap", contract.BackoffLinear, 2 * MaxBackoff, 1, MaxBackoff},
		{"zero delay", contract.BackoffExponential, 0, 3, 0},
		{"negative delay", contract.BackoffLinear, -s, 3, 0},
		{"n zero", contract.BackoffLinear, s, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Backoff(tt.policy, tt.delay, tt.n); got != tt.want {
				t.Errorf("Backoff(%q, %v, %d) = %v, want %v", tt.policy, tt.delay, tt.n, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		code   int
		header string
		limit  time.Duration
		want   time.Duration
	}{
		{"seconds", 429, "7", time.Minute, 7 * time.Second},
		{"seconds on 503", 503, "7", time.Minute, 7 * time.Second},
		{"seconds capped", 429, "7", 3 * time.Second, 3 * time.Second},
		{"huge seconds capped", 429, "99999999999999999", time.Minute, time.Minute},
		{"date", 429, date(10 * time.Second), time.Minute, 10 * time.Second},
		{"date capped", 429, date(time.Hour), time.Minute, time.Minute},
		{"date in the past", 429, date(-time.Hour), time.Minute, 0},
		{"negative seconds", 429, "-5", time.Minute, 0},
		{"zero limit ignores", 429, "7", 0, 0},
		{"other status ignores", 500, "7", time.Minute, 0},
		{"missing", 429, "", time.Minute, 0},
		{"garbage", 429, "later", time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.code, tt.header, tt.limit, now); got != tt.want {
				t.Errorf("retryAfter(%d, %q, %v) = %v, want %v", tt.code, tt.header, tt.limit, got, tt.want)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Delivered: "delivered", DeadLettered: "dead_lettered", Failed: "failed", 0: "unknown"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

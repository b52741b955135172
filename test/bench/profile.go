package bench

import (
	"fmt"
	"time"
)

// Profile sizes a run. Short fits in about ten minutes on two cores; Full takes longer and
// measures longer; Smoke only checks that the driver works.
type Profile struct {
	Name string `json:"name"`
	// StepDuration is how long each rate of the ingress ladder is held.
	StepDuration Duration `json:"stepDuration"`
	// LadderStart and LadderFactor shape the saturation ladder: LadderStart, ×LadderFactor, ...
	LadderStart  int     `json:"ladderStart"`
	LadderFactor float64 `json:"ladderFactor"`
	// LadderMax stops the ladder even when the target still keeps up.
	LadderMax int `json:"ladderMax"`
	// FixedRates are the rates latency is reported at; FixedDuration how long each is held.
	FixedRates    []int    `json:"fixedRates"`
	FixedDuration Duration `json:"fixedDuration"`
	// BacklogEvents is the dispatcher's preloaded backlog.
	BacklogEvents int `json:"backlogEvents"`
	// E2ERates and E2EDuration: the end-to-end runs.
	E2ERates    []int    `json:"e2eRates"`
	E2EDuration Duration `json:"e2eDuration"`
	// PipelineRates are the rising rates of the end-to-end ladder, each held for PipelineStep; the
	// ladder stops at the first step that does not pass (pipelinePassed).
	PipelineRates []int    `json:"pipelineRates"`
	PipelineStep  Duration `json:"pipelineStep"`
	// FanOut lists trigger counts; FanOutEvents is the backlog they drain, grown for few triggers
	// so that a step makes at least FanOutMinDeliveries (a drain of 5,000 deliveries is over in a
	// quarter of a second, and measures mostly its start).
	FanOut              []int `json:"fanOut"`
	FanOutEvents        int   `json:"fanOutEvents"`
	FanOutMinDeliveries int   `json:"fanOutMinDeliveries,omitempty"`
	// IdleTriggers is the trigger count of the idle footprint.
	IdleTriggers int `json:"idleTriggers"`
	// ReactivityRepeats is how many contract changes are timed.
	ReactivityRepeats int `json:"reactivityRepeats"`
	// MaxInFlight is the dispatcher's in-flight limit and the bare HTTP client's concurrency.
	MaxInFlight int `json:"maxInFlight"`
	// EventSize is the data size of every event.
	EventSize int `json:"eventSize"`
}

// pipelineRates are the end-to-end ladder's steps: issue 16 reports the incumbent's saturation at
// 10,000 ev/s and asks for 1.25× that (12,500).
var pipelineRates = []int{2000, 4000, 6000, 8000, 10000, 12500, 15000, 20000}

// Profiles by name.
var profiles = map[string]Profile{
	"short": {
		Name: "short", StepDuration: Duration(4 * time.Second), LadderStart: 2000, LadderFactor: 1.5, LadderMax: 60000,
		FixedRates: []int{1000, 5000}, FixedDuration: Duration(8 * time.Second),
		BacklogEvents: 50000, E2ERates: []int{1000, 8000}, E2EDuration: Duration(20 * time.Second),
		PipelineRates: pipelineRates, PipelineStep: Duration(5 * time.Second),
		FanOut: []int{1, 10, 100, 1000}, FanOutEvents: 5000, FanOutMinDeliveries: 50000, IdleTriggers: 1000, ReactivityRepeats: 5,
		MaxInFlight: 100, EventSize: 1024,
	},
	// smoke checks the driver end to end in a minute or two; its figures mean little.
	"smoke": {
		Name: "smoke", StepDuration: Duration(time.Second), LadderStart: 1000, LadderFactor: 3, LadderMax: 10000,
		FixedRates: []int{1000}, FixedDuration: Duration(2 * time.Second),
		BacklogEvents: 5000, E2ERates: []int{1000}, E2EDuration: Duration(3 * time.Second),
		PipelineRates: []int{1000, 3000}, PipelineStep: Duration(time.Second),
		FanOut: []int{1, 10}, FanOutEvents: 1000, IdleTriggers: 50, ReactivityRepeats: 2,
		MaxInFlight: 100, EventSize: 1024,
	},
	"full": {
		Name: "full", StepDuration: Duration(10 * time.Second), LadderStart: 2000, LadderFactor: 1.25, LadderMax: 80000,
		FixedRates: []int{1000, 5000}, FixedDuration: Duration(30 * time.Second),
		BacklogEvents: 200000, E2ERates: []int{1000, 8000}, E2EDuration: Duration(60 * time.Second),
		PipelineRates: pipelineRates, PipelineStep: Duration(10 * time.Second),
		FanOut: []int{1, 10, 100, 1000}, FanOutEvents: 10000, FanOutMinDeliveries: 100000, IdleTriggers: 1000, ReactivityRepeats: 5,
		MaxInFlight: 100, EventSize: 1024,
	},
}

// ProfileByName returns the named profile.
func ProfileByName(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown profile %q (want short, full or smoke)", name)
	}
	return p, nil
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalText writes the duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Package contractsource delivers the routing contract to the data plane as it changes. File
// follows a JSON file (local mode and tests); ConfigMaps follows the sharded ConfigMaps the
// control plane writes, through the Kubernetes API (a watch, not a mounted file, so a change
// arrives in well under a second). Both call an ApplyFunc with every new generation, in order, and
// never with a contract that failed to decode or is incomplete: the last good one keeps running.
package contractsource

import (
	"context"

	"knkafka.dev/control-plane/pkg/contract"
)

// ApplyFunc receives a new contract. An error is logged by the source; the source offers the same
// generation again on its next change or resync.
type ApplyFunc func(ctx context.Context, c *contract.Contract) error

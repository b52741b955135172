package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PartitionsError says an existing topic has fewer partitions than requested. Kafka can add
// partitions but that would move keys to other partitions, so we report it and leave it to an
// operator.
type PartitionsError struct {
	Topic string
	// Have is the partition count of the existing topic; Want the count that was requested.
	Have, Want int32
}

func (e *PartitionsError) Error() string {
	return fmt.Sprintf("topic %q has %d partitions, fewer than the %d requested", e.Topic, e.Have, e.Want)
}

// IsPartitionsMismatch reports whether err is (or wraps) a *PartitionsError.
func IsPartitionsMismatch(err error) bool {
	var pe *PartitionsError
	return errors.As(err, &pe)
}

// IsUnavailable reports whether err means the cluster could not be reached or could not serve the
// request right now (network errors, timeouts, no leader or controller, coordinator loading). Such
// an error is worth retrying later unchanged.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, kerr.BrokerNotAvailable),
		errors.Is(err, kerr.LeaderNotAvailable),
		errors.Is(err, kerr.NotController),
		errors.Is(err, kerr.RequestTimedOut),
		errors.Is(err, kerr.NetworkException),
		errors.Is(err, kerr.CoordinatorNotAvailable),
		errors.Is(err, kerr.CoordinatorLoadInProgress),
		errors.Is(err, kerr.NotCoordinator),
		errors.Is(err, kerr.ThrottlingQuotaExceeded),
		errors.Is(err, kgo.ErrClientClosed):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// IsUnauthorized reports whether the cluster refused err's request for lack of authorization or
// authentication.
func IsUnauthorized(err error) bool {
	if err == nil {
		return false
	}
	var authErr *kadm.AuthError
	return errors.As(err, &authErr) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.SaslAuthenticationFailed)
}

// IsInvalidTopicSpec reports whether the cluster rejected a topic because of its spec: invalid
// name, partitions, replication factor (for example more than there are brokers) or config.
func IsInvalidTopicSpec(err error) bool {
	return errors.Is(err, kerr.InvalidTopicException) ||
		errors.Is(err, kerr.InvalidPartitions) ||
		errors.Is(err, kerr.InvalidReplicationFactor) ||
		errors.Is(err, kerr.InvalidReplicaAssignment) ||
		errors.Is(err, kerr.InvalidConfig) ||
		errors.Is(err, kerr.PolicyViolation)
}

// IsGroupNotEmpty reports whether a consumer group could not be deleted because it still has
// members; delete it again once its consumers left.
func IsGroupNotEmpty(err error) bool {
	return errors.Is(err, kerr.NonEmptyGroup)
}

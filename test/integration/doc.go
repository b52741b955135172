// Package integration holds tests that check our footing on real infrastructure: that the Kafka
// broker `make test` starts behaves as the rest of the suite assumes (topics through kadm, consumer
// groups, committed offsets), and that the in-process kfake does the same for unit tests.
package integration

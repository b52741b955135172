// Package integration holds tests that check our footing on real infrastructure: that the Kafka
// broker `make test` starts behaves as the rest of the suite assumes (topics through kadm, consumer
// groups, committed offsets), and that the in-process kfake does the same for unit tests; and that
// the whole data plane, run in process on a contract built by contractbuild, serves a Broker, a
// KafkaChannel and a KafkaSource on every listener of a secured Kafka (kafkatest.StartSecured),
// refuses wrong credentials with their reasons and follows a rotated password.
package integration

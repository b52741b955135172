package contractbuild_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/ptr"

	"knkafka.dev/control-plane/pkg/apis/eventing"
	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contract"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

func TestParseChannelConfig(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    contractbuild.ChannelConfig
		wantErr string
	}{{
		name: "a full config with an auth secret in another namespace",
		data: map[string]string{
			"bootstrap.servers":         " k1:9092, k2:9092 ,,",
			"auth.secret.ref.name":      " kafka-auth ",
			"auth.secret.ref.namespace": "kafka",
			"default.topic.partitions":  "ignored: channels shape their own topics",
		},
		want: contractbuild.ChannelConfig{BootstrapServers: []string{"k1:9092", "k2:9092"}, AuthSecretName: "kafka-auth", AuthSecretNamespace: "kafka"},
	}, {
		name: "a minimal config has no auth",
		data: map[string]string{"bootstrap.servers": "k:9092"},
		want: contractbuild.ChannelConfig{BootstrapServers: []string{"k:9092"}},
	}, {
		name: "a secret namespace without a secret name is ignored",
		data: map[string]string{"bootstrap.servers": "k:9092", "auth.secret.ref.namespace": "kafka"},
		want: contractbuild.ChannelConfig{BootstrapServers: []string{"k:9092"}},
	}, {
		name:    "bootstrap servers are required",
		data:    map[string]string{"auth.secret.ref.name": "kafka-auth"},
		wantErr: "bootstrap.servers is required",
	}, {
		name:    "blank bootstrap servers are missing ones",
		data:    map[string]string{"bootstrap.servers": " , "},
		wantErr: "bootstrap.servers is required",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contractbuild.ParseChannelConfig(tt.data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseChannelConfig = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseChannelConfig(f *testing.F) {
	f.Add("k:9092", "kafka-auth", "kafka")
	f.Add(",", "", "x")
	f.Fuzz(func(t *testing.T, servers, secret, namespace string) {
		cfg, err := contractbuild.ParseChannelConfig(map[string]string{
			"bootstrap.servers": servers, "auth.secret.ref.name": secret, "auth.secret.ref.namespace": namespace,
		})
		if err != nil {
			return
		}
		if len(cfg.BootstrapServers) == 0 {
			t.Fatalf("accepted a config without servers: %+v", cfg)
		}
		for _, s := range cfg.BootstrapServers {
			if s == "" || strings.Contains(s, ",") || s != strings.TrimSpace(s) {
				t.Fatalf("bad server %q", s)
			}
		}
		if cfg.AuthSecretName == "" && cfg.AuthSecretNamespace != "" {
			t.Fatalf("a secret namespace without a name: %+v", cfg)
		}
	})
}

func TestChannelNames(t *testing.T) {
	kc := channel()
	for _, tt := range []struct{ what, got, want string }{
		{"ChannelServiceName", contractbuild.ChannelServiceName(kc), "orders-kn-channel"},
		{"ChannelHost", contractbuild.ChannelHost(kc, ""), "orders-kn-channel.ns.svc.cluster.local"},
		{"ChannelHost with a domain", contractbuild.ChannelHost(kc, "corp.example"), "orders-kn-channel.ns.svc.corp.example"},
		{"ChannelAddress", contractbuild.ChannelAddress(kc).String(), "http://orders-kn-channel.ns.svc.cluster.local"},
		{"SubscriptionConsumerGroup", contractbuild.SubscriptionConsumerGroup(kc, "sub-uid"), "kafka.ns.orders.sub-uid"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.what, tt.got, tt.want)
		}
	}

	long := channel()
	long.Name = strings.Repeat("a", 53) // 53 + len("-kn-channel") = 64 > 63
	if got := contractbuild.ChannelServiceName(long); got != long.Name {
		t.Errorf("ChannelServiceName of a 53-character name = %q, want the name itself", got)
	}
	long.Name = strings.Repeat("a", 52)
	if got, want := contractbuild.ChannelServiceName(long), long.Name+"-kn-channel"; got != want {
		t.Errorf("ChannelServiceName of a 52-character name = %q, want %q", got, want)
	}
}

func TestChannelResource(t *testing.T) {
	tests := []struct {
		name string
		cfg  contractbuild.ChannelConfig
		want contract.Resource
	}{{
		name: "a channel with an auth secret routes by host and by path",
		cfg:  contractbuild.ChannelConfig{BootstrapServers: []string{"k1:9092", "k2:9092"}, AuthSecretName: "kafka-auth", AuthSecretNamespace: "kafka"},
		want: contract.Resource{
			UID: "channel-uid", Kind: "KafkaChannel", Namespace: "ns", Name: "orders",
			Topic:            "knative-messaging-kafka.ns.orders",
			BootstrapServers: []string{"k1:9092", "k2:9092"},
			Auth:             &contract.SecretRef{Namespace: "kafka", Name: "kafka-auth"},
			Ingress:          &contract.Ingress{Path: "/ns/orders", Host: "orders-kn-channel.ns.svc.cluster.local"},
		},
	}, {
		name: "a secret without a namespace is in knative-eventing",
		cfg:  contractbuild.ChannelConfig{BootstrapServers: []string{"k:9092"}, AuthSecretName: "kafka-auth"},
		want: contract.Resource{
			UID: "channel-uid", Kind: "KafkaChannel", Namespace: "ns", Name: "orders",
			Topic:            "knative-messaging-kafka.ns.orders",
			BootstrapServers: []string{"k:9092"},
			Auth:             &contract.SecretRef{Namespace: "knative-eventing", Name: "kafka-auth"},
			Ingress:          &contract.Ingress{Path: "/ns/orders", Host: "orders-kn-channel.ns.svc.cluster.local"},
		},
	}, {
		name: "no secret means no auth",
		cfg:  contractbuild.ChannelConfig{BootstrapServers: []string{"k:9092"}},
		want: contract.Resource{
			UID: "channel-uid", Kind: "KafkaChannel", Namespace: "ns", Name: "orders",
			Topic:            "knative-messaging-kafka.ns.orders",
			BootstrapServers: []string{"k:9092"},
			Ingress:          &contract.Ingress{Path: "/ns/orders", Host: "orders-kn-channel.ns.svc.cluster.local"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := contractbuild.ChannelResource(channel(), "knative-messaging-kafka.ns.orders", tt.cfg)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resource (-want +got):\n%s", diff)
			}
			// The resource owns its servers: changing the config afterwards does not reach it.
			if len(tt.cfg.BootstrapServers) > 0 {
				tt.cfg.BootstrapServers[0] = "changed:9092"
				if got.BootstrapServers[0] == "changed:9092" {
					t.Error("the resource shares the config's bootstrap servers")
				}
			}
		})
	}
	golden(t, "channel_resource", contractbuild.ChannelResource(channel(), "knative-messaging-kafka.ns.orders", contractbuild.ChannelConfig{
		BootstrapServers: []string{"k1:9092", "k2:9092"}, AuthSecretName: "kafka-auth", AuthSecretNamespace: "kafka",
	}))
}

func TestSubscriberEgress(t *testing.T) {
	linear := eventingduckv1.BackoffPolicyLinear
	exponential := eventingduckv1.BackoffPolicyExponential
	channelDLS := apis.HTTP("channel-dls.ns.svc.cluster.local")
	base := contract.Egress{
		UID: "sub-uid", Kind: "Subscription", Namespace: "ns", Name: "orders-to-billing",
		ConsumerGroup: "kafka.ns.orders.sub-uid",
		Destination:   "http://billing.ns.svc.cluster.local",
		Reply:         contract.Reply{Kind: contract.ReplyDiscard},
		Order:         contract.Ordered,
	}
	tests := []struct {
		name       string
		sub        func(*eventingduckv1.SubscriberSpec)
		channel    func(*messagingv1beta1.KafkaChannel)
		annotated  map[string]string // the Subscription's annotations
		channelDLS *apis.URL
		want       func(*contract.Egress)
		wantErr    string
	}{{
		name: "a bare subscriber is delivered in order, replies discarded, no retries",
	}, {
		name: "a subscriber without a name has an egress without a name",
		sub:  func(s *eventingduckv1.SubscriberSpec) { s.Name = nil },
		want: func(e *contract.Egress) { e.Name = "" },
	}, {
		name: "a reply URI sends replies there",
		sub:  func(s *eventingduckv1.SubscriberSpec) { s.ReplyURI = apis.HTTP("reply.ns.svc.cluster.local") },
		want: func(e *contract.Egress) {
			e.Reply = contract.Reply{Kind: contract.ReplyURL, URL: "http://reply.ns.svc.cluster.local"}
		},
	}, {
		name:       "the channel's dead-letter sink applies when the subscriber has none",
		channelDLS: channelDLS,
		want:       func(e *contract.Egress) { e.DeadLetter = "http://channel-dls.ns.svc.cluster.local" },
	}, {
		name: "the subscriber's resolved dead-letter sink wins over the channel's",
		sub: func(s *eventingduckv1.SubscriberSpec) {
			s.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{URI: apis.HTTP("sub-dls.ns.svc.cluster.local")}}
		},
		channelDLS: channelDLS,
		want:       func(e *contract.Egress) { e.DeadLetter = "http://sub-dls.ns.svc.cluster.local" },
	}, {
		name: "a dead-letter sink that is not resolved is an error",
		sub: func(s *eventingduckv1.SubscriberSpec) {
			s.Delivery = &eventingduckv1.DeliverySpec{DeadLetterSink: &duckv1.Destination{
				Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "dls"},
			}}
		},
		wantErr: "subscriber sub-uid: the dead-letter sink is not resolved to a URI",
	}, {
		name: "the channel's delivery applies when the subscriber has none",
		channel: func(kc *messagingv1beta1.KafkaChannel) {
			kc.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.2S")}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{Retry: 3, BackoffPolicy: contract.BackoffLinear, BackoffDelay: contract.Duration(200 * time.Millisecond)}
		},
	}, {
		name: "the subscriber's delivery wins field by field",
		channel: func(kc *messagingv1beta1.KafkaChannel) {
			kc.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT1S"), Timeout: ptr.String("PT30S")}
		},
		sub: func(s *eventingduckv1.SubscriberSpec) {
			s.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(5), BackoffPolicy: &exponential, RetryAfterMax: ptr.String("PT2M")}
		},
		want: func(e *contract.Egress) {
			e.Delivery = contract.Delivery{
				Retry: 5, BackoffPolicy: contract.BackoffExponential, BackoffDelay: contract.Duration(time.Second),
				Timeout: contract.Duration(30 * time.Second), RetryAfterMax: contract.Duration(2 * time.Minute),
			}
		},
	}, {
		name: "an invalid delivery is an error naming the subscriber",
		sub: func(s *eventingduckv1.SubscriberSpec) {
			s.Delivery = &eventingduckv1.DeliverySpec{Timeout: ptr.String("10s")}
		},
		wantErr: "subscriber sub-uid: delivery.timeout must be an ISO-8601 duration",
	}, {
		name:      "an unordered Subscription is delivered unordered",
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "unordered"},
		want:      func(e *contract.Egress) { e.Order = contract.Unordered },
	}, {
		name:      "a key-ordered Subscription is delivered in order per key",
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "key-ordered"},
		want:      func(e *contract.Egress) { e.Order = contract.KeyOrdered },
	}, {
		name:      "the Subscription's annotation is read case-insensitively",
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "UnOrdered"},
		want:      func(e *contract.Egress) { e.Order = contract.Unordered },
	}, {
		name:    "the channel's annotation is the default of its Subscriptions",
		channel: withChannelOrder("unordered"),
		want:    func(e *contract.Egress) { e.Order = contract.Unordered },
	}, {
		name:      "the Subscription's annotation wins over the channel's",
		channel:   withChannelOrder("unordered"),
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "ordered"},
	}, {
		name:      "other annotations on the Subscription leave the channel's default",
		channel:   withChannelOrder("Key-Ordered"),
		annotated: map[string]string{"example.com/team": "billing"},
		want:      func(e *contract.Egress) { e.Order = contract.KeyOrdered },
	}, {
		name:      "an invalid Subscription annotation is an error naming the subscriber",
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "fifo"},
		wantErr:   `subscriber sub-uid: subscription: annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "fifo"`,
	}, {
		name:      "an invalid channel annotation is an error naming the channel, even under a valid Subscription annotation",
		channel:   withChannelOrder("fifo"),
		annotated: map[string]string{eventing.DeliveryOrderAnnotation: "ordered"},
		wantErr:   `subscriber sub-uid: channel ns/orders: annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "fifo"`,
	}, {
		name:    "a subscriber without a URI is an error",
		sub:     func(s *eventingduckv1.SubscriberSpec) { s.SubscriberURI = nil },
		wantErr: "subscriber sub-uid has no subscriberUri",
	}, {
		name:    "a subscriber without a UID is an error",
		sub:     func(s *eventingduckv1.SubscriberSpec) { s.UID = "" },
		wantErr: "subscriber has no uid",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, sub := channel(), subscriberSpec()
			if tt.channel != nil {
				tt.channel(kc)
			}
			if tt.sub != nil {
				tt.sub(&sub)
			}
			got, err := contractbuild.SubscriberEgress(kc, sub, tt.annotated, tt.channelDLS)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("SubscriberEgress = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("egress (-want +got):\n%s", diff)
			}
		})
	}

	kc, sub := channel(), subscriberSpec()
	kc.Spec.Delivery = &eventingduckv1.DeliverySpec{Retry: ptr.Int32(3), BackoffPolicy: &linear, BackoffDelay: ptr.String("PT0.5S")}
	sub.ReplyURI = apis.HTTP("reply.ns.svc.cluster.local")
	sub.Delivery = &eventingduckv1.DeliverySpec{Timeout: ptr.String("PT10S")}
	got, err := contractbuild.SubscriberEgress(kc, sub, nil, channelDLS)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "channel_subscriber_egress", got)
}

func withChannelOrder(order string) func(*messagingv1beta1.KafkaChannel) {
	return func(kc *messagingv1beta1.KafkaChannel) {
		kc.Annotations = map[string]string{eventing.DeliveryOrderAnnotation: order}
	}
}

func channel() *messagingv1beta1.KafkaChannel {
	return &messagingv1beta1.KafkaChannel{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orders", UID: "channel-uid"},
		Spec:       messagingv1beta1.KafkaChannelSpec{NumPartitions: 3, ReplicationFactor: 1, RetentionDuration: "PT1H"},
	}
}

func subscriberSpec() eventingduckv1.SubscriberSpec {
	return eventingduckv1.SubscriberSpec{
		Name:          ptr.String("orders-to-billing"),
		UID:           "sub-uid",
		Generation:    2,
		SubscriberURI: apis.HTTP("billing.ns.svc.cluster.local"),
	}
}

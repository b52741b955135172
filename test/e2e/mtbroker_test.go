package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/twmb/franz-go/pkg/kadm"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/eventing/pkg/auth"
	mtbroker "knative.dev/eventing/pkg/broker"
	"knative.dev/eventing/pkg/broker/filter"
	"knative.dev/eventing/pkg/broker/ingress"
	brokerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/broker"
	triggerinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1/trigger"
	eventpolicyinformer "knative.dev/eventing/pkg/client/injection/informers/eventing/v1alpha1/eventpolicy"
	subscriptioninformer "knative.dev/eventing/pkg/client/injection/informers/messaging/v1/subscription"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/reconciler/broker"
	mttrigger "knative.dev/eventing/pkg/reconciler/broker/trigger"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	configmapinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/configmap/filtered"
	cminformer "knative.dev/pkg/configmap/informer"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/ptr"
)

// mtBrokerClass is the class of Knative core's channel-based Broker.
const mtBrokerClass = "MTChannelBasedBroker"

// mtBrokerChannelConfig is Knative's config-br-default-channel naming our KafkaChannel as the
// channel behind every channel-based Broker that points at it.
const mtBrokerChannelConfig = `apiVersion: messaging.knative.dev/v1beta1
kind: KafkaChannel
spec:
  numPartitions: 3
  replicationFactor: 1
`

// mtBrokerDataPlane is the MT broker's ingress and filter, Knative's own handlers served here.
type mtBrokerDataPlane struct {
	// filterSaw records the ids of the events the filter was asked to deliver, by request path.
	mu        sync.Mutex
	filterSaw map[string][]string
}

// testMTChannelBrokerOnKafkaChannel runs Knative core's channel-based Broker on our KafkaChannel:
// config-br-default-channel names KafkaChannel; Knative's MT broker reconciler creates the backing
// KafkaChannel, which we reconcile into a topic; Knative's trigger reconciler subscribes its
// filter to it; events POSTed to the Broker's address pass Knative's ingress, our channel ingress,
// Kafka, our dispatcher and Knative's filter, which delivers only the matching ones, each once.
func testMTChannelBrokerOnKafkaChannel(t *testing.T, s *suite) {
	k := useKnativeCore(t, s)
	ns := namespace(t, s, "e2e-mt-broker")
	const brokerName, triggerName = "default", "wanted"
	channel := brokerName + "-kne-trigger" // Knative's resources.BrokerChannelName
	topic := channelTopic(ns, channel)
	s.forgetKafka(t, topic)
	dp := startMTChannelBroker(t, s, k)
	t.Cleanup(func() { s.deleteMTBroker(t, ns, brokerName, triggerName, channel) })

	// The Broker: Knative's reconciler creates its KafkaChannel from the template; we make the topic.
	b := &eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: brokerName, Annotations: map[string]string{brokerClassAnnotation: mtBrokerClass}},
		Spec: eventingv1.BrokerSpec{Config: &duckv1.KReference{
			APIVersion: "v1", Kind: "ConfigMap", Namespace: systemNamespace, Name: "config-br-default-channel",
		}},
	}
	createBroker(t, s, b)
	channels := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns)
	eventually(t, 60*time.Second, "the KafkaChannel "+ns+"/"+channel+" of Broker "+brokerName, func() (bool, string) {
		kc, err := channels.Get(context.Background(), channel, metav1.GetOptions{})
		if err != nil {
			conds, bErr := brokerConditions(s, ns, brokerName)(context.Background())
			return false, fmt.Sprintf("%v; the Broker: %v %s", err, bErr, describeConditions(conds))
		}
		if kc.Spec.NumPartitions != 3 || kc.Spec.ReplicationFactor != 1 {
			return false, fmt.Sprintf("spec %+v, want config-br-default-channel's 3 partitions, replication 1", kc.Spec)
		}
		owner := metav1.GetControllerOf(kc)
		return owner != nil && owner.Kind == "Broker" && owner.Name == brokerName, fmt.Sprintf("controller %+v", owner)
	})
	eventually(t, 60*time.Second, "topic "+topic+" with 3 partitions", func() (bool, string) {
		n, ok, err := topicPartitions(context.Background(), s.kafka, topic)
		return ok && n == 3, fmt.Sprintf("exists=%t partitions=%d err=%v", ok, n, err)
	})
	waitReady(t, 60*time.Second, "Broker "+ns+"/"+brokerName, brokerConditions(s, ns, brokerName))
	b, err := s.cluster.Eventing.EventingV1().Brokers(ns).Get(context.Background(), brokerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantAddress := "http://broker-ingress." + systemNamespace + ".svc.cluster.local/" + ns + "/" + brokerName
	if b.Status.Address == nil || b.Status.Address.URL.String() != wantAddress {
		t.Fatalf("Broker address %+v, want %s", b.Status.Address, wantAddress)
	}
	if got := b.Status.Annotations["knative.dev/channelAddress"]; got != channelAddress(ns, channel) {
		t.Errorf("Broker's channel address annotation %q, want the KafkaChannel's %s", got, channelAddress(ns, channel))
	}

	// A Trigger with a filter: Knative subscribes its filter to the KafkaChannel.
	subscriber := newSink(t, "mt-broker-subscriber")
	tr := createTrigger(t, s, newTrigger(ns, triggerName, brokerName, subscriber.url, withFilter(map[string]string{"type": "e2e.wanted"})))
	took := waitReady(t, 90*time.Second, "Trigger "+ns+"/"+triggerName, triggerConditions(s, ns, triggerName))
	t.Logf("Trigger %s/%s Ready %s after it was created", ns, triggerName, took.Round(time.Millisecond))
	sub := triggerSubscription(t, s, tr)
	if sub.Spec.Channel.Kind != "KafkaChannel" || sub.Spec.Channel.Name != channel {
		t.Errorf("the Trigger's Subscription is on %+v, want KafkaChannel %s", sub.Spec.Channel, channel)
	}
	group := subscriptionGroup(ns, channel, string(sub.UID))
	kc, err := channels.Get(context.Background(), channel, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(kc.Status.Subscribers, func(st eventingduckv1.SubscriberStatus) bool { return st.UID == sub.UID }); i < 0 || kc.Status.Subscribers[i].Ready != corev1.ConditionTrue {
		t.Errorf("KafkaChannel status.subscribers = %+v, want the Trigger's Subscription %s ready", kc.Status.Subscribers, sub.UID)
	}

	// Through the Broker's address, as a client in the cluster would: the shim takes the cluster
	// hostname to Knative's ingress.
	wanted, unwanted := ids("w", 6), ids("u", 4)
	var sent []string
	for i := range wanted {
		sendToAddress(t, s, b.Status.Address.URL, event(wanted[i], "e2e.wanted", "/e2e/mt-broker", nil))
		sent = append(sent, wanted[i])
		if i < len(unwanted) {
			sendToAddress(t, s, b.Status.Address.URL, event(unwanted[i], "e2e.unwanted", "/e2e/mt-broker", nil))
			sent = append(sent, unwanted[i])
		}
	}
	subscriber.waitFor(t, 60*time.Second, wanted)
	waitCaughtUp(t, s.admin, topic, group)
	// Every event reached Knative's filter through our channel, so the unwanted ones were
	// filtered out there — not lost on the way.
	eventually(t, 10*time.Second, "Knative's filter asked to deliver every event sent", func() (bool, string) {
		saw := dp.sawIDs()
		var missing []string
		for _, id := range sent {
			if !slices.Contains(saw, id) {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v; saw %v", missing, saw)
	})
	if n, err := topicRecords(context.Background(), s.admin, topic); err != nil || n != int64(len(sent)) {
		t.Errorf("topic %s holds %d records (err %v), want the %d events sent: each through the KafkaChannel once", topic, n, err, len(sent))
	}
	subscriber.checkExactly(t, wanted)
	checkEach(t, subscriber, "passed Knative's MT broker ingress (knativearrivaltime set)", func(d delivered) string {
		_, ok := d.event.Extensions()["knativearrivaltime"]
		return fmt.Sprint(ok)
	}, "true")
	checkNoUnknownHosts(t, s)
}

// topicRecords is how many records topic holds: the sum over its partitions of end minus start.
func topicRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(end kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, end.Partition)
		n += end.Offset - start.Offset
	})
	return n, nil
}

// sendToAddress POSTs e in binary mode to address, a cluster URL, through the cluster DNS shim,
// and fails t unless it is accepted (202).
func sendToAddress(t *testing.T, s *suite, address *apis.URL, e cloudevents.Event) {
	t.Helper()
	proxy, err := url.Parse(s.dns.url)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	defer client.CloseIdleConnections()
	ctx := ctxFor(t, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, address.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatalf("encoding event %s: %v", e.ID(), err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("sending %s to %s: %v", e.ID(), address, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sending %s to %s: %s, want 202", e.ID(), address, resp.Status)
	}
}

// triggerSubscription returns the Subscription Knative's trigger reconciler made for tr.
func triggerSubscription(t *testing.T, s *suite, tr *eventingv1.Trigger) *messagingv1.Subscription {
	t.Helper()
	list, err := s.cluster.Eventing.MessagingV1().Subscriptions(tr.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if owner := metav1.GetControllerOf(&list.Items[i]); owner != nil && owner.Kind == "Trigger" && owner.UID == tr.UID {
			return &list.Items[i]
		}
	}
	t.Fatalf("no Subscription in %s controlled by Trigger %s (%d Subscriptions)", tr.Namespace, tr.Name, len(list.Items))
	return nil
}

// startMTChannelBroker runs Knative core's channel-based Broker in this process for t: its
// Broker and Trigger reconcilers (as cmd/mtchannel_broker wires them) and its data plane — the
// broker ingress and filter handlers of cmd/broker/ingress and cmd/broker/filter — on 127.0.0.1,
// reachable at the cluster hostnames the reconcilers write through the cluster DNS shim.
//
// Only the serving is ours: Knative's server managers bind fixed ports (8080, 8443) and want TLS
// Secrets; here each handler is served by a plain http.Server. In a cluster, the
// broker-ingress/broker-filter Services' EndpointSlices come from the EndpointSlice controller,
// which does not run here, so we create the Services and a ready slice for each. Metrics and
// traces go to no-op providers. The filter's CESQL correlation-id function (request-reply) is
// not registered: no Trigger here uses it.
func startMTChannelBroker(t *testing.T, s *suite, k *knativeCore) *mtBrokerDataPlane {
	t.Helper()
	if err := applyConfigMap(ctxFor(t, 30*time.Second), s.cluster, systemNamespace, "config-br-default-channel",
		map[string]string{"channel-template-spec": mtBrokerChannelConfig}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(k.injected)
	logger := k.logger.Named("mt-broker")
	ctx = logging.WithLogger(ctx, logger)
	cmw := cminformer.NewInformedWatcher(kubeclient.Get(ctx), systemNamespace)
	dp := &mtBrokerDataPlane{filterSaw: map[string][]string{}}
	ingressHandler, filterHandler, err := mtBrokerHandlers(ctx, cmw, logger.Desugar())
	if err != nil {
		cancel()
		t.Fatalf("Knative's MT broker handlers: %v", err)
	}
	impls := []*controller.Impl{broker.NewController(ctx, cmw), mttrigger.NewController(ctx, cmw)}
	if err := cmw.Start(ctx.Done()); err != nil {
		cancel()
		t.Fatalf("MT broker: starting the ConfigMap watcher: %v", err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := controller.StartAll(ctx, impls...); err != nil {
			logger.Errorw("Knative's MT broker controllers stopped", zap.Error(err))
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Errorf("Knative's MT broker controllers did not stop within 30 s")
		}
	})
	for name, h := range map[string]http.Handler{"broker-ingress": ingressHandler, "broker-filter": dp.recording(filterHandler)} {
		addr := serveLoopback(t, h)
		s.dns.registerService(t, systemNamespace, name, "http://"+addr)
		s.createReadyService(t, name, addr)
	}
	return dp
}

// mtBrokerHandlers builds Knative's broker ingress and filter handlers as their mains do.
func mtBrokerHandlers(ctx context.Context, cmw *cminformer.InformedWatcher, logger *zap.Logger) (http.Handler, http.Handler, error) {
	featureStore := feature.NewStore(logger.Sugar().Named("feature-config-store"))
	featureStore.WatchConfigs(cmw)
	withFeatures := func(ctx context.Context) context.Context { return featureStore.ToContext(ctx) }
	trustBundles := configmapinformer.Get(ctx, eventingtls.TrustBundleLabelSelector).Lister().ConfigMaps(systemNamespace)
	tokens := auth.NewOIDCTokenProvider(ctx)
	verifier := auth.NewVerifier(ctx, eventpolicyinformer.Get(ctx).Lister(), trustBundles, cmw)
	meters, tracers := metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
	in, err := ingress.NewHandler(logger.Named("ingress"), mtbroker.TTLDefaulter(logger, 255), brokerinformer.Get(ctx),
		verifier, tokens, trustBundles, withFeatures, meters, tracers)
	if err != nil {
		return nil, nil, fmt.Errorf("ingress: %w", err)
	}
	out, err := filter.NewHandler(logger.Named("filter"), verifier, tokens, triggerinformer.Get(ctx), brokerinformer.Get(ctx),
		subscriptioninformer.Get(ctx), trustBundles, withFeatures, meters, tracers)
	if err != nil {
		return nil, nil, fmt.Errorf("filter: %w", err)
	}
	return in, out, nil
}

// recording records the CloudEvent id (binary mode's Ce-Id) of every request before h serves it.
func (dp *mtBrokerDataPlane) recording(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dp.mu.Lock()
		dp.filterSaw[r.URL.Path] = append(dp.filterSaw[r.URL.Path], r.Header.Get("Ce-Id"))
		dp.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// sawIDs returns the ids the filter was asked to deliver, on any path.
func (dp *mtBrokerDataPlane) sawIDs() []string {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	var ids []string
	for _, saw := range dp.filterSaw {
		ids = append(ids, saw...)
	}
	return ids
}

// serveLoopback serves h on 127.0.0.1 until t ends and returns its host:port.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// endpointStandIn is the pod IP of the EndpointSlices createReadyService makes, from TEST-NET-1
// (RFC 5737): the apiserver refuses loopback endpoint addresses, and nothing dials it — the
// cluster DNS shim takes the Service's hostname to the loopback server.
const endpointStandIn = "192.0.2.1"

// createReadyService creates the Service name in the system namespace, without selector, and an
// EndpointSlice for it with one ready endpoint on addr's port (host:port), and deletes both when t
// ends: what the Service of a Deployment with a ready pod gives Knative's MT broker reconciler,
// which marks the Broker's IngressReady/FilterReady from the EndpointSlices of broker-ingress and
// broker-filter.
func (s *suite) createReadyService(t *testing.T, name, addr string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var portNumber int32
	if _, err := fmt.Sscan(port, &portNumber); err != nil {
		t.Fatal(err)
	}
	services := s.cluster.Kube.CoreV1().Services(systemNamespace)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: name},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(portNumber)}}},
	}
	if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s/%s: %v", systemNamespace, name, err)
	}
	endpointSlices := s.cluster.Kube.DiscoveryV1().EndpointSlices(systemNamespace)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: systemNamespace, Name: name + "-e2e", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{endpointStandIn}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.Bool(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.String("http"), Port: ptr.Int32(portNumber)}},
	}
	if _, err := endpointSlices.Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating EndpointSlice %s/%s: %v", systemNamespace, slice.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, err := range []error{
			endpointSlices.Delete(ctx, slice.Name, metav1.DeleteOptions{}),
			services.Delete(ctx, name, metav1.DeleteOptions{}),
		} {
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting the %s Service or its EndpointSlice: %v", name, err)
			}
		}
	})
}

// deleteMTBroker deletes what testMTChannelBrokerOnKafkaChannel made. Without
// kube-controller-manager nothing garbage-collects what the Broker and Trigger own, so it deletes
// the Trigger's Subscription and the Broker's KafkaChannel too, and waits for their finalizers
// (Knative's for the Subscription, ours — which deletes the topic — for the KafkaChannel).
func (s *suite) deleteMTBroker(t *testing.T, ns, brokerName, triggerName, channel string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eventing, messaging := s.cluster.Eventing.EventingV1(), s.cluster.Eventing.MessagingV1()
	ignore := func(err error) error {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	subs, err := messaging.Subscriptions(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("cleaning up: %v", err)
		return
	}
	errs := []error{ignore(eventing.Triggers(ns).Delete(ctx, triggerName, metav1.DeleteOptions{}))}
	for _, sub := range subs.Items {
		if owner := metav1.GetControllerOf(&sub); owner != nil && owner.Kind == "Trigger" && owner.Name == triggerName {
			errs = append(errs, ignore(messaging.Subscriptions(ns).Delete(ctx, sub.Name, metav1.DeleteOptions{})))
		}
	}
	errs = append(errs,
		ignore(eventing.Brokers(ns).Delete(ctx, brokerName, metav1.DeleteOptions{})),
		ignore(s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Delete(ctx, channel, metav1.DeleteOptions{})))
	for _, err := range errs {
		if err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	}
	for ctx.Err() == nil {
		_, err := s.kafkaClient.MessagingV1beta1().KafkaChannels(ns).Get(ctx, channel, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.collectChannelService(ctx, t, ns, channel, "")
			return
		}
		time.Sleep(poll)
	}
	t.Errorf("KafkaChannel %s/%s was not deleted within 60 s of the end of the test", ns, channel)
}

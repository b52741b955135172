package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"

	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/system"

	"knkafka.dev/control-plane/pkg/contractstore"
	"knkafka.dev/control-plane/pkg/dataplanestatus"
	"knkafka.dev/control-plane/pkg/kafka"
)

// collaborators are built once, on the first controller's construction (when the injected
// Kubernetes client exists), and shared by every controller.
type collaborators struct {
	once              sync.Once
	store             *contractstore.Store
	dataPlane         *dataplanestatus.Reader
	kafka             *kafka.Clients
	brokerIngressHost string
	sinkIngressHost   string
}

// withCollaborators adapts a reconciler's NewController to a constructor for sharedmain.
func withCollaborators[D any](c *collaborators, newController func(context.Context, configmap.Watcher, D) *controller.Impl,
	deps func(*collaborators) D) injection.ControllerConstructor {
	return func(ctx context.Context, cmw configmap.Watcher) *controller.Impl {
		c.once.Do(func() { c.init(ctx) })
		return newController(ctx, cmw, deps(c))
	}
}

// init reads the environment:
//   - DATA_PLANE_STATUS_URLS: data-plane admin base URLs (comma-separated) for a data plane
//     outside the cluster; otherwise the ready pods behind DATA_PLANE_SERVICES (default: the
//     ingress and dispatcher Services) on DATA_PLANE_ADMIN_PORT (default 9090);
//   - BROKER_INGRESS_HOST: the host of broker addresses (default the kafka-broker-ingress Service);
//   - SINK_INGRESS_HOST: the host of sink addresses (default the kafka-sink-ingress Service).
func (c *collaborators) init(ctx context.Context) {
	logger := logging.FromContext(ctx).Desugar()
	kube := kubeclient.Get(ctx)
	c.store = contractstore.New(kube, system.Namespace(), logger.Named("contract"))
	go c.store.Run(ctx)

	endpoints := dataplanestatus.Static(splitList(os.Getenv("DATA_PLANE_STATUS_URLS"))...)
	if os.Getenv("DATA_PLANE_STATUS_URLS") == "" {
		services := splitList(envOr("DATA_PLANE_SERVICES",
			"kafka-broker-ingress,kafka-broker-dispatcher,kafka-channel-ingress,kafka-channel-dispatcher"))
		port, err := strconv.Atoi(envOr("DATA_PLANE_ADMIN_PORT", "9090"))
		if err != nil {
			logger.Fatal("DATA_PLANE_ADMIN_PORT is not a number")
		}
		endpoints = dataplanestatus.FromEndpointSlices(kube, system.Namespace(), services, port)
	}
	c.dataPlane = dataplanestatus.NewReader(endpoints, 0)

	clients := kafka.NewClients(logger.Named("kafka"))
	go func() {
		<-ctx.Done()
		clients.Close()
	}()
	c.kafka = clients
	c.brokerIngressHost = os.Getenv("BROKER_INGRESS_HOST")
	c.sinkIngressHost = os.Getenv("SINK_INGRESS_HOST")
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

package manifests

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"knkafka.dev/control-plane/pkg/contractbuild"
	"knkafka.dev/control-plane/pkg/reconciler/kafkachannel"
)

// brokerIngressService is the Service in every Broker's address (DESIGN §1).
const brokerIngressService = "kafka-broker-ingress"

// selects reports whether svc's selector picks the pods of d.
func selects(svc *corev1.Service, d *appsv1.Deployment) bool {
	return len(svc.Spec.Selector) > 0 && d.Namespace == svc.Namespace &&
		labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
}

// TestIngressServicesSelectTheIngressPods: kafka-broker-ingress and kafka-channel-ingress are
// the fixed names in Broker and channel addresses; our multi-tenant ingress serves both, so
// both must select exactly the Deployments running the ingress role and send port 80 to the
// ingress port.
func TestIngressServicesSelectTheIngressPods(t *testing.T) {
	objs := config(t)
	bin, roles := dataPlaneRoles(t, objs)
	if !strings.HasPrefix(contractbuild.DefaultIngressHost, brokerIngressService+"."+systemNamespace+".svc.") {
		t.Errorf("Brokers' default address host %q is not the %s Service in %s", contractbuild.DefaultIngressHost, brokerIngressService, systemNamespace)
	}
	for _, name := range []string{brokerIngressService, kafkachannel.IngressServiceName} {
		t.Run(name, func(t *testing.T) {
			svc, ok := find[*corev1.Service](objs, systemNamespace, name)
			if !ok {
				t.Fatalf("Service %s/%s does not exist", systemNamespace, name)
			}
			if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("type %s, want ClusterIP", svc.Spec.Type)
			}
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				t.Error("the Service is headless; channel ExternalName aliases and clients need its virtual IP")
			}
			i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 80 })
			if i < 0 {
				t.Fatalf("no port 80: addresses are plain http://host/...")
			}
			port80 := svc.Spec.Ports[i]
			var ingresses int
			for _, r := range roles {
				if got := selects(svc, r.deployment); got != r.ingress() {
					t.Errorf("selects Deployment %s (role %s): %t, want %t", r.deployment.Name, r.role, got, r.ingress())
				}
				if !r.ingress() {
					continue
				}
				ingresses++
				c := &r.deployment.Spec.Template.Spec.Containers[0]
				want := addrPort(t, r.argOr(bin, "ingress-addr"))
				if got, ok := containerPort(c, port80.TargetPort); !ok || got != want {
					t.Errorf("port 80 targets %s, which is port %d of %s, want its ingress port %d", port80.TargetPort.String(), got, r.deployment.Name, want)
				}
			}
			if ingresses == 0 {
				t.Error("no ingress Deployment to select")
			}
			for _, d := range ofType[*appsv1.Deployment](objs) {
				if d.Spec.Template.Spec.Containers[0].Image != dataPlaneImage && selects(svc, d) {
					t.Errorf("selects %s, which is not the data plane", d.Name)
				}
			}
		})
	}
}

// TestControllerFindsEveryDataPlanePod: the controller marks an object Ready only when every
// data-plane pod behind DATA_PLANE_SERVICES serves it, asking each on DATA_PLANE_ADMIN_PORT. A
// data-plane Deployment behind none of those Services would be ignored, so Ready could come
// before it serves.
func TestControllerFindsEveryDataPlanePod(t *testing.T) {
	objs := config(t)
	controller := oneDeploymentOf(t, objs, controllerImage)
	c := &controller.Spec.Template.Spec.Containers[0]
	ctrl := parseBinary(t, controllerImage)
	dp, roles := dataPlaneRoles(t, objs)

	if e, ok := envValue(c, "DATA_PLANE_STATUS_URLS"); ok {
		t.Fatalf("DATA_PLANE_STATUS_URLS=%q replaces discovery; it is for a data plane outside the cluster", e.Value)
	}
	get := func(key string) string {
		if e, ok := envValue(c, key); ok {
			return e.Value
		}
		def, read := ctrl.env[key]
		if !read {
			t.Fatalf("the controller does not read %s any more", key)
		}
		return def
	}
	var services []*corev1.Service
	for _, name := range strings.Split(get("DATA_PLANE_SERVICES"), ",") {
		name = strings.TrimSpace(name)
		svc, ok := find[*corev1.Service](objs, systemNamespace, name)
		if !ok {
			t.Errorf("DATA_PLANE_SERVICES names %s, which config/ does not define in %s", name, systemNamespace)
			continue
		}
		services = append(services, svc)
	}
	adminPort := get("DATA_PLANE_ADMIN_PORT")
	for _, r := range roles {
		if !slices.ContainsFunc(services, func(s *corev1.Service) bool { return selects(s, r.deployment) }) {
			t.Errorf("data-plane Deployment %s (role %s) is behind none of DATA_PLANE_SERVICES", r.deployment.Name, r.role)
		}
		if got := r.argOr(dp, "admin-addr"); strings.TrimPrefix(got, ":") != adminPort {
			t.Errorf("%s serves its admin endpoints on %q, but the controller asks port %s", r.deployment.Name, got, adminPort)
		}
	}
	if e, ok := envValue(c, "BROKER_INGRESS_HOST"); ok && !strings.HasPrefix(e.Value, brokerIngressService+"."+systemNamespace+".svc.") {
		t.Errorf("BROKER_INGRESS_HOST=%q is not the %s Service", e.Value, brokerIngressService)
	}
}

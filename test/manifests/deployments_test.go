package manifests

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	controllerImage = koPrefix + "control-plane/cmd/controller"
	webhookImage    = koPrefix + "control-plane/cmd/webhook"
	dataPlaneImage  = koPrefix + "data-plane/cmd/knkafka-dataplane"
)

// knativeEnv are the environment variables Knative's sharedmain, system and webhook packages read
// in the controller and the webhook.
var knativeEnv = map[string]bool{
	"SYSTEM_NAMESPACE":           true,
	"POD_NAME":                   true,
	"CONFIG_LOGGING_NAME":        true,
	"CONFIG_OBSERVABILITY_NAME":  true,
	"CONFIG_LEADERELECTION_NAME": true,
	"K_THREADS_PER_CONTROLLER":   true,
	"PROFILING_PORT":             true,
	"WEBHOOK_NAME":               true,
	"WEBHOOK_PORT":               true,
	"WEBHOOK_SECRET_NAME":        true,
}

// goRuntimeEnv are read by the Go runtime of every binary.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}

// knownImages are our binaries; each Deployment runs one of them.
var knownImages = []string{controllerImage, webhookImage, dataPlaneImage}

// deploymentsOf returns the Deployments whose single container runs image.
func deploymentsOf(t *testing.T, objs []object, image string) []*appsv1.Deployment {
	t.Helper()
	var out []*appsv1.Deployment
	for _, d := range ofType[*appsv1.Deployment](objs) {
		if len(d.Spec.Template.Spec.Containers) == 1 && d.Spec.Template.Spec.Containers[0].Image == image {
			out = append(out, d)
		}
	}
	return out
}

// oneDeploymentOf returns the only Deployment running image.
func oneDeploymentOf(t *testing.T, objs []object, image string) *appsv1.Deployment {
	t.Helper()
	ds := deploymentsOf(t, objs, image)
	if len(ds) != 1 {
		t.Fatalf("%d Deployments run %s, want 1", len(ds), image)
	}
	return ds[0]
}

func envValue(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// containerPort resolves a probe's or Service's target port (a number or a port name) against c.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func hasContainerPort(c *corev1.Container, port int32) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == port })
}

// TestDeploymentsRunOurBinariesAsTheyExpect: each Deployment runs one of our binaries, passes it
// only flags it defines and environment variables something in it reads, runs as a
// ServiceAccount that exists, and selects its own pods.
func TestDeploymentsRunOurBinariesAsTheyExpect(t *testing.T) {
	objs := config(t)
	deployments := ofType[*appsv1.Deployment](objs)
	if len(deployments) == 0 {
		t.Fatal("config/ has no Deployments")
	}
	for _, d := range deployments {
		t.Run(d.Name, func(t *testing.T) {
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("selector %v does not select the pod template's labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
			}
			sa := d.Spec.Template.Spec.ServiceAccountName
			if _, ok := find[*corev1.ServiceAccount](objs, d.Namespace, sa); !ok {
				t.Errorf("ServiceAccount %q does not exist in config/", sa)
			}
			spec := d.Spec.Template.Spec
			if len(spec.Containers) != 1 || len(spec.InitContainers) != 0 {
				t.Fatalf("%d containers and %d init containers, want exactly one container", len(spec.Containers), len(spec.InitContainers))
			}
			c := &spec.Containers[0]
			if !slices.Contains(knownImages, c.Image) {
				t.Fatalf("image %q is none of our binaries %v", c.Image, knownImages)
			}
			bin := parseBinary(t, c.Image)
			if len(c.Command) > 0 {
				t.Errorf("command %v overrides the image's entrypoint", c.Command)
			}
			for name := range parseArgs(t, d.Name, c.Args) {
				if _, ok := bin.flags[name]; !ok {
					t.Errorf("flag --%s is not defined by %s (it defines %v)", name, bin.dir, keys(bin.flags))
				}
			}
			for _, e := range c.Env {
				if _, ok := bin.env[e.Name]; !ok && !knativeEnv[e.Name] && !goRuntimeEnv[e.Name] {
					t.Errorf("environment variable %s is read neither by %s nor by Knative or the Go runtime", e.Name, bin.dir)
				}
			}
			ns, ok := envValue(c, "SYSTEM_NAMESPACE")
			if !ok || ns.ValueFrom == nil || ns.ValueFrom.FieldRef == nil || ns.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("SYSTEM_NAMESPACE is not set from the pod's metadata.namespace: %+v", ns)
			}
		})
	}
}

// TestDeploymentsAreHardenedAndSized: the restricted Pod Security Standard's requirements, a
// read-only root filesystem, requests and limits, and both probes on a port the container declares.
func TestDeploymentsAreHardenedAndSized(t *testing.T) {
	for _, d := range ofType[*appsv1.Deployment](config(t)) {
		t.Run(d.Name, func(t *testing.T) {
			pod := d.Spec.Template.Spec
			psc := pod.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
				t.Error("the pod does not set runAsNonRoot: true")
			}
			if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("the pod does not use the RuntimeDefault seccomp profile")
			}
			for i := range pod.Containers {
				c := &pod.Containers[i]
				if sc := c.SecurityContext; sc == nil {
					t.Errorf("container %s has no securityContext", c.Name)
				} else {
					if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
						t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
					}
					if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
						t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
					}
					if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
						t.Errorf("container %s: capabilities are not drop [ALL], add none: %+v", c.Name, sc.Capabilities)
					}
					if sc.Privileged != nil && *sc.Privileged {
						t.Errorf("container %s is privileged", c.Name)
					}
				}
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, hasReq := c.Resources.Requests[res]
					lim, hasLim := c.Resources.Limits[res]
					if !hasReq || !hasLim {
						t.Errorf("container %s: %s request or limit missing", c.Name, res)
						continue
					}
					if req.Cmp(lim) > 0 {
						t.Errorf("container %s: %s request %s exceeds the limit %s", c.Name, res, req.String(), lim.String())
					}
				}
				for probeName, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
					if p == nil || p.HTTPGet == nil {
						t.Errorf("container %s has no HTTP %s probe", c.Name, probeName)
						continue
					}
					if port, ok := containerPort(c, p.HTTPGet.Port); !ok || !hasContainerPort(c, port) {
						t.Errorf("container %s: the %s probe's port %s is not a declared container port", c.Name, probeName, p.HTTPGet.Port.String())
					}
				}
			}
		})
	}
}

// dataPlaneRole is a data-plane Deployment and the role it runs.
type dataPlaneRole struct {
	deployment *appsv1.Deployment
	role       string
	args       map[string]string
}

func (r dataPlaneRole) ingress() bool    { return r.role == "ingress" || r.role == "all" }
func (r dataPlaneRole) dispatcher() bool { return r.role == "dispatcher" || r.role == "all" }

// argOr returns the value of flag name in the Deployment's arguments, else the binary's default.
func (r dataPlaneRole) argOr(bin binary, name string) string {
	if v, ok := r.args[name]; ok {
		return v
	}
	return bin.flags[name]
}

func dataPlaneRoles(t *testing.T, objs []object) (binary, []dataPlaneRole) {
	t.Helper()
	bin := parseBinary(t, dataPlaneImage)
	var out []dataPlaneRole
	for _, d := range deploymentsOf(t, objs, dataPlaneImage) {
		args := parseArgs(t, d.Name, d.Spec.Template.Spec.Containers[0].Args)
		role, ok := args["role"]
		if !ok {
			role = bin.flags["role"]
		}
		out = append(out, dataPlaneRole{deployment: d, role: role, args: args})
	}
	return bin, out
}

// TestDataPlaneDeploymentsCoverBothRoles: every data-plane Deployment runs a role the binary
// knows, together they run the ingress and the dispatcher, and they probe /healthz and /readyz on
// the admin port the binary listens on, which they also expose for metrics.
func TestDataPlaneDeploymentsCoverBothRoles(t *testing.T) {
	bin, roles := dataPlaneRoles(t, config(t))
	known := bin.comparedValues("role")
	if len(known) == 0 {
		t.Fatalf("found no comparisons of the --role flag's value in %s", bin.dir)
	}
	var ingress, dispatcher bool
	for _, r := range roles {
		d := r.deployment
		if !slices.Contains(known, r.role) {
			t.Errorf("%s: --role=%s is not a role %s knows (%v)", d.Name, r.role, bin.dir, known)
		}
		ingress = ingress || r.ingress()
		dispatcher = dispatcher || r.dispatcher()

		c := &d.Spec.Template.Spec.Containers[0]
		admin := addrPort(t, r.argOr(bin, "admin-addr"))
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				continue // reported by TestDeploymentsAreHardenedAndSized
			}
			port, _ := containerPort(c, p.probe.HTTPGet.Port)
			if port != admin || p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s: the %s probe gets %s on port %d, want %s on the admin port %d", d.Name, p.name, p.probe.HTTPGet.Path, port, p.path, admin)
			}
		}
		if port, ok := containerPort(c, intstr.FromString("http-metrics")); !ok || port != admin {
			t.Errorf("%s: container port http-metrics is %d, want the admin port %d", d.Name, port, admin)
		}
		if r.ingress() {
			in := addrPort(t, r.argOr(bin, "ingress-addr"))
			if port, ok := containerPort(c, intstr.FromString("http")); !ok || port != in {
				t.Errorf("%s: container port http is %d, want the ingress port %d", d.Name, port, in)
			}
		}
	}
	if !ingress || !dispatcher {
		t.Errorf("the data-plane Deployments run ingress=%t dispatcher=%t; both roles are needed", ingress, dispatcher)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

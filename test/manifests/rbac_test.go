package manifests

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// knativeClusterRoles are Knative Eventing core's ClusterRoles that our bindings may name.
var knativeClusterRoles = map[string]bool{"addressable-resolver": true, "source-observer": true}

// TestRBACReferencesResolve: every binding names a role config/ defines (or one of Knative's) and
// ServiceAccounts config/ defines; every ServiceAccount is used by a Deployment.
func TestRBACReferencesResolve(t *testing.T) {
	objs := config(t)
	checkSubjects := func(binding string, subjects []rbacv1.Subject) {
		if len(subjects) == 0 {
			t.Errorf("%s has no subjects", binding)
		}
		for _, s := range subjects {
			if s.Kind != rbacv1.ServiceAccountKind {
				t.Errorf("%s binds %s %s; only our ServiceAccounts should be bound", binding, s.Kind, s.Name)
				continue
			}
			if _, ok := find[*corev1.ServiceAccount](objs, s.Namespace, s.Name); !ok {
				t.Errorf("%s binds ServiceAccount %s/%s, which config/ does not define", binding, s.Namespace, s.Name)
			}
		}
	}
	for _, b := range ofType[*rbacv1.ClusterRoleBinding](objs) {
		name := "ClusterRoleBinding " + b.Name
		checkSubjects(name, b.Subjects)
		if b.RoleRef.Kind != "ClusterRole" {
			t.Errorf("%s refers to a %s", name, b.RoleRef.Kind)
		} else if _, ok := findClusterScoped[*rbacv1.ClusterRole](objs, b.RoleRef.Name); !ok && !knativeClusterRoles[b.RoleRef.Name] {
			t.Errorf("%s refers to ClusterRole %s, which is neither ours nor Knative's", name, b.RoleRef.Name)
		}
	}
	for _, b := range ofType[*rbacv1.RoleBinding](objs) {
		name := "RoleBinding " + b.Namespace + "/" + b.Name
		checkSubjects(name, b.Subjects)
		switch b.RoleRef.Kind {
		case "Role":
			if _, ok := find[*rbacv1.Role](objs, b.Namespace, b.RoleRef.Name); !ok {
				t.Errorf("%s refers to Role %s, which config/ does not define in %s", name, b.RoleRef.Name, b.Namespace)
			}
		case "ClusterRole":
			if _, ok := findClusterScoped[*rbacv1.ClusterRole](objs, b.RoleRef.Name); !ok && !knativeClusterRoles[b.RoleRef.Name] {
				t.Errorf("%s refers to ClusterRole %s, which is neither ours nor Knative's", name, b.RoleRef.Name)
			}
		default:
			t.Errorf("%s refers to a %s", name, b.RoleRef.Kind)
		}
	}
	deployments := ofType[*appsv1.Deployment](objs)
	for _, sa := range ofType[*corev1.ServiceAccount](objs) {
		if !slices.ContainsFunc(deployments, func(d *appsv1.Deployment) bool {
			return d.Namespace == sa.Namespace && d.Spec.Template.Spec.ServiceAccountName == sa.Name
		}) {
			t.Errorf("ServiceAccount %s is used by no Deployment", sa.Name)
		}
	}
}

// access is one API request: namespace "" means in every namespace (or a cluster-scoped resource).
type access struct {
	verb, group, resource, namespace string
}

func (a access) String() string {
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	group := a.group
	if group == "" {
		group = "core"
	}
	return a.verb + " " + group + "/" + a.resource + " " + where
}

// allowed evaluates the RBAC of config/ for a ServiceAccount of the system namespace, as the
// authorizer would, with two simplifications: rules with resourceNames are ignored, and Knative's
// ClusterRoles grant nothing (they are not in config/).
func allowed(objs []object, sa string, a access) bool {
	subject := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == systemNamespace && s.Name == sa
		})
	}
	grants := func(rules []rbacv1.PolicyRule) bool {
		return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			match := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
			return len(r.ResourceNames) == 0 && match(r.Verbs, a.verb) && match(r.APIGroups, a.group) && match(r.Resources, a.resource)
		})
	}
	clusterRole := func(name string) []rbacv1.PolicyRule {
		if r, ok := findClusterScoped[*rbacv1.ClusterRole](objs, name); ok {
			return r.Rules
		}
		return nil
	}
	for _, b := range ofType[*rbacv1.ClusterRoleBinding](objs) {
		if subject(b.Subjects) && grants(clusterRole(b.RoleRef.Name)) {
			return true
		}
	}
	if a.namespace == "" {
		return false
	}
	for _, b := range ofType[*rbacv1.RoleBinding](objs) {
		if b.Namespace != a.namespace || !subject(b.Subjects) {
			continue
		}
		rules := clusterRole(b.RoleRef.Name)
		if b.RoleRef.Kind == "Role" {
			if r, ok := find[*rbacv1.Role](objs, b.Namespace, b.RoleRef.Name); ok {
				rules = r.Rules
			} else {
				rules = nil
			}
		}
		if grants(rules) {
			return true
		}
	}
	return false
}

// requests expands verbs over one resource.
func requests(group, resource, namespace string, verbs ...string) []access {
	out := make([]access, 0, len(verbs))
	for _, v := range verbs {
		out = append(out, access{v, group, resource, namespace})
	}
	return out
}

// TestComponentsHaveWhatTheirCodeDoes lists, per component, the API requests its code makes (and
// some it must not be able to make), and evaluates config/'s RBAC for each.
func TestComponentsHaveWhatTheirCodeDoes(t *testing.T) {
	objs := config(t)
	ns := systemNamespace
	controllerSA := oneDeploymentOf(t, objs, controllerImage).Spec.Template.Spec.ServiceAccountName
	webhookSA := oneDeploymentOf(t, objs, webhookImage).Spec.Template.Spec.ServiceAccountName
	dataPlaneSAs := map[string]bool{}
	for _, d := range deploymentsOf(t, objs, dataPlaneImage) {
		dataPlaneSAs[d.Spec.Template.Spec.ServiceAccountName] = true
	}

	controller := slices.Concat(
		// Brokers and Triggers: informers, the generated reconcilers' status updates and
		// finalizer patches.
		requests("eventing.knative.dev", "brokers", "", "get", "list", "watch", "patch"),
		requests("eventing.knative.dev", "triggers", "", "get", "list", "watch", "patch"),
		requests("eventing.knative.dev", "brokers/status", "", "update"),
		requests("eventing.knative.dev", "triggers/status", "", "update"),
		requests("eventing.knative.dev", "brokers/finalizers", "", "update"),
		requests("eventing.knative.dev", "triggers/finalizers", "", "update"),
		requests("messaging.knative.dev", "kafkachannels", "", "get", "list", "watch", "patch"),
		requests("messaging.knative.dev", "kafkachannels/status", "", "update"),
		// The <name>-kn-channel Service is owned by its KafkaChannel (blockOwnerDeletion).
		requests("messaging.knative.dev", "kafkachannels/finalizers", "", "update"),
		requests("sources.knative.dev", "kafkasources", "", "get", "list", "watch", "patch"),
		requests("sources.knative.dev", "kafkasources/status", "", "update"),
		requests("sources.knative.dev", "kafkasources/finalizers", "", "update"),
		// Broker config ConfigMaps anywhere; the contract ConfigMaps in the system namespace.
		requests("", "configmaps", "", "get", "list", "watch"),
		requests("", "configmaps", ns, "create", "update", "delete"),
		// kn-channel ExternalName Services in users' namespaces.
		requests("", "services", "", "get", "list", "watch", "create", "update"),
		// Kafka credentials: the Secret informer behind kafka.Credentials, cluster-wide.
		requests("", "secrets", "", "list", "watch"),
		requests("discovery.k8s.io", "endpointslices", ns, "list"),
		requests("coordination.k8s.io", "leases", ns, "get", "create", "update"),
		requests("", "events", "", "create", "patch"),
	)
	webhook := slices.Concat(
		requests("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "get", "list", "watch", "update"),
		requests("admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "get", "list", "watch", "update"),
		requests("", "namespaces", "", "get"),
		requests("", "namespaces/finalizers", "", "update"),
		requests("", "secrets", ns, "get", "list", "watch", "create", "update"),
		requests("", "configmaps", ns, "get", "list", "watch"),
		requests("coordination.k8s.io", "leases", ns, "get", "create", "update"),
	)
	dataPlane := slices.Concat(
		requests("", "configmaps", ns, "get", "list", "watch"),
		// kafkaauth.Kubernetes: one list and watch per referenced Secret, in its namespace.
		requests("", "secrets", "", "list", "watch"),
	)
	for _, tc := range []struct {
		sa        string
		need      []access
		mustNotDo []access
	}{
		{controllerSA, controller, slices.Concat(
			requests("", "secrets", "", "get", "create", "update", "delete"),
			requests("", "configmaps", "", "create", "update", "delete"),
			requests("", "pods", ns, "create"),
		)},
		{webhookSA, webhook, slices.Concat(
			requests("", "secrets", "", "get", "list"),
			requests("", "configmaps", "", "list"),
			requests("", "namespaces", "", "update", "delete"),
		)},
	} {
		check(t, objs, tc.sa, tc.need, tc.mustNotDo)
	}
	for sa := range dataPlaneSAs {
		check(t, objs, sa, dataPlane, slices.Concat(
			requests("", "configmaps", ns, "create", "update", "delete"),
			requests("", "configmaps", "", "list"),
			requests("", "secrets", "", "get", "create", "update", "patch", "delete"),
		))
	}
}

func check(t *testing.T, objs []object, sa string, need, mustNotDo []access) {
	t.Helper()
	for _, a := range need {
		if !allowed(objs, sa, a) {
			t.Errorf("ServiceAccount %s may not %s", sa, a)
		}
	}
	for _, a := range mustNotDo {
		if allowed(objs, sa, a) {
			t.Errorf("ServiceAccount %s may %s, which its code never needs", sa, a)
		}
	}
}

// TestKnativeSourceObserversMayReadKafkaSources: Knative's source-observer ClusterRole aggregates
// every ClusterRole labelled duck.knative.dev/source, so one of ours must grant reading
// KafkaSources; without it Knative's source duck (and kn) cannot see them.
func TestKnativeSourceObserversMayReadKafkaSources(t *testing.T) {
	var rules []rbacv1.PolicyRule
	for _, r := range ofType[*rbacv1.ClusterRole](config(t)) {
		if r.Labels["duck.knative.dev/source"] == "true" {
			rules = append(rules, r.Rules...)
		}
	}
	for _, verb := range []string{"get", "list", "watch"} {
		if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, "sources.knative.dev") && slices.Contains(r.Resources, "kafkasources") && slices.Contains(r.Verbs, verb)
		}) {
			t.Errorf("no ClusterRole labelled duck.knative.dev/source=true grants %s on sources.knative.dev/kafkasources", verb)
		}
	}
}

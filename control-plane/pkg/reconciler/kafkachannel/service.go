package kafkachannel

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/kmeta"
	pkgreconciler "knative.dev/pkg/reconciler"

	messagingv1beta1 "knkafka.dev/control-plane/pkg/apis/messaging/v1beta1"
	"knkafka.dev/control-plane/pkg/contractbuild"
)

const (
	// IngressServiceName is the Service of the channel ingress in the system namespace; every
	// channel's <name>-kn-channel Service is an alias of it.
	IngressServiceName = "kafka-channel-ingress"
	// RoleLabel marks the Services of channels, with the value Knative's Kafka channel uses.
	RoleLabel        = "messaging.knative.dev/role"
	roleKafkaChannel = "kafka-channel"
)

// channelService is the Service that gives kc its host name: an ExternalName alias of the channel
// ingress, owned (and so garbage-collected) by kc. The ingress tells channels apart by the Host
// header, which keeps the alias's name.
func channelService(kc *messagingv1beta1.KafkaChannel, systemNamespace string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       kc.Namespace,
			Name:            contractbuild.ChannelServiceName(kc),
			Labels:          map[string]string{RoleLabel: roleKafkaChannel},
			OwnerReferences: []metav1.OwnerReference{*kmeta.NewControllerRef(kc)},
		},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: IngressServiceName + "." + systemNamespace + ".svc.cluster.local",
			Ports:        []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
		},
	}
}

// service creates kc's Service, or puts back what someone changed in it. A Service of that name
// that kc does not own is left alone and reported.
func (r *Reconciler) service(ctx context.Context, kc *messagingv1beta1.KafkaChannel) pkgreconciler.Event {
	want := channelService(kc, r.systemNamespace)
	got, err := r.services.Services(want.Namespace).Get(want.Name)
	switch {
	case apierrors.IsNotFound(err):
		if _, err := r.kube.CoreV1().Services(want.Namespace).Create(ctx, want, metav1.CreateOptions{}); err != nil {
			kc.Status.MarkServiceFailed(ReasonServiceFailed, "creating Service %s/%s: %v", want.Namespace, want.Name, err)
			return retry(ReasonServiceFailed, "creating Service %s/%s: %v", want.Namespace, want.Name, err)
		}
	case err != nil:
		return fmt.Errorf("getting Service %s/%s: %w", want.Namespace, want.Name, err)
	case !metav1.IsControlledBy(got, kc):
		kc.Status.MarkServiceFailed(ReasonServiceNotOwned, "Service %s/%s exists and is not owned by the channel", want.Namespace, want.Name)
		return retry(ReasonServiceNotOwned, "Service %s/%s exists and is not owned by the channel", want.Namespace, want.Name)
	case !serviceMatches(got, want):
		fixed := got.DeepCopy()
		// The whole spec is replaced: turning a ClusterIP Service into an ExternalName one
		// requires dropping its cluster IPs.
		fixed.Spec = want.Spec
		fixed.Labels = maps.Clone(got.Labels)
		if fixed.Labels == nil {
			fixed.Labels = map[string]string{}
		}
		maps.Copy(fixed.Labels, want.Labels)
		if _, err := r.kube.CoreV1().Services(want.Namespace).Update(ctx, fixed, metav1.UpdateOptions{}); err != nil {
			kc.Status.MarkServiceFailed(ReasonServiceFailed, "updating Service %s/%s: %v", want.Namespace, want.Name, err)
			return retry(ReasonServiceFailed, "updating Service %s/%s: %v", want.Namespace, want.Name, err)
		}
	}
	kc.Status.MarkServiceReady()
	return nil
}

// serviceMatches compares only what we set: the API server fills in other fields (a port's
// targetPort, sessionAffinity…) that must not count as a change.
func serviceMatches(got, want *corev1.Service) bool {
	if got.Spec.Type != want.Spec.Type || got.Spec.ExternalName != want.Spec.ExternalName ||
		len(got.Spec.Ports) != len(want.Spec.Ports) {
		return false
	}
	for k, v := range want.Labels {
		if got.Labels[k] != v {
			return false
		}
	}
	for i, p := range want.Spec.Ports {
		g := got.Spec.Ports[i]
		if g.Name != p.Name || g.Protocol != p.Protocol || g.Port != p.Port {
			return false
		}
	}
	return true
}

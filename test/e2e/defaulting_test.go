package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/apis/messaging"
	messagingconfig "knative.dev/eventing/pkg/apis/messaging/config"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/pkg/apis"
	kubefilteredfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	cminformer "knative.dev/pkg/configmap/informer"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/resourcesemantics"
	"knative.dev/pkg/webhook/resourcesemantics/defaulting"
)

// defaultingWebhookName is the MutatingWebhookConfiguration serveKnativeDefaulting registers.
const defaultingWebhookName = "e2e.defaulting.webhook.eventing.knative.dev"

// serveKnativeDefaulting runs Knative eventing's own defaulting admission controller — the one its
// webhook serves at /defaulting, with the channel-defaults and features config stores its main
// wires in — in this process, over HTTPS on 127.0.0.1, and registers it with the apiserver, so the
// Channels and Subscriptions that a client such as kn creates are defaulted as in a cluster: a
// Channel without a template gets the one default-ch-webhook names for its namespace. The
// ConfigMaps it watches (default-ch-webhook, config-features) must exist. When t ends it is
// unregistered, then stopped.
//
// Only the serving is ours: Knative's webhook server wants its certificates from a Secret that its
// certificate controller fills in, and a Service to be reached through.
func serveKnativeDefaulting(t *testing.T, s *suite, k *knativeCore) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := k.logger.Named("defaulting-webhook")
	ctx = logging.WithLogger(ctx, logger)
	// The admission controller's constructor reads its informers from the context; it only uses
	// them to reconcile a webhook configuration of its own, which we do not run, so they are not
	// started. (The filtered factory that Knative core's reconcilers use needs its selectors.)
	ctx = kubefilteredfactory.WithSelectors(ctx, auth.OIDCLabelSelector)
	ctx, _ = injection.Default.SetupInformers(ctx, s.cluster.Config())
	ctx = webhook.WithOptions(ctx, webhook.Options{ServiceName: "eventing-webhook", SecretName: "eventing-webhook-certs"})

	cmw := cminformer.NewInformedWatcher(s.cluster.Kube, systemNamespace)
	channelStore := messagingconfig.NewStore(logger.Named("channel-config-store"))
	channelStore.WatchConfigs(cmw)
	featureStore := feature.NewStore(logger.Named("feature-config-store"))
	featureStore.WatchConfigs(cmw)
	if err := cmw.Start(ctx.Done()); err != nil {
		t.Fatalf("defaulting webhook: watching its ConfigMaps: %v", err)
	}
	types := map[schema.GroupVersionKind]resourcesemantics.GenericCRD{
		messagingv1.SchemeGroupVersion.WithKind("Channel"):      &messagingv1.Channel{},
		messagingv1.SchemeGroupVersion.WithKind("Subscription"): &messagingv1.Subscription{},
	}
	impl := defaulting.NewAdmissionController(ctx, "webhook.eventing.knative.dev", "/defaulting", types,
		func(ctx context.Context) context.Context { return featureStore.ToContext(channelStore.ToContext(ctx)) }, true)
	ac, ok := impl.Reconciler.(webhook.AdmissionController)
	if !ok {
		t.Fatalf("Knative's defaulting controller (%T) is not an admission controller", impl.Reconciler)
	}

	mux := http.NewServeMux()
	mux.Handle(ac.Path(), admissionHandler(ac, logger))
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	registerDefaulting(t, s, srv.URL+ac.Path(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// admissionHandler serves AdmissionReviews with ac, as knative.dev/pkg/webhook does.
func admissionHandler(ac webhook.AdmissionController, logger *zap.SugaredLogger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, fmt.Sprintf("decoding the AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		ctx := apis.WithHTTPRequest(logging.WithLogger(r.Context(), logger), r)
		resp := ac.Admit(ctx, review.Request)
		resp.UID = review.Request.UID
		out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
		if err := json.NewEncoder(w).Encode(out); err != nil {
			logger.Errorw("encoding an AdmissionReview response", "error", err)
		}
	}
}

// registerDefaulting points the apiserver's admission of Channels and Subscriptions at url, the
// way Knative's webhook registers itself (creates and updates of the resources and their status),
// and unregisters it when t ends.
func registerDefaulting(t *testing.T, s *suite, url string, caBundle []byte) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	fail, none, equivalent := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Equivalent
	timeout := int32(10)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: defaultingWebhookName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    defaultingWebhookName,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			AdmissionReviewVersions: []string{"v1"},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			MatchPolicy:             &equivalent,
			TimeoutSeconds:          &timeout,
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{messagingv1.SchemeGroupVersion.Group},
					APIVersions: []string{messagingv1.SchemeGroupVersion.Version},
					Resources:   []string{"channels", "channels/status", "subscriptions", "subscriptions/status"},
				},
			}},
		}},
	}
	webhooks := s.cluster.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := webhooks.Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatalf("registering Knative's defaulting webhook: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := webhooks.Delete(ctx, defaultingWebhookName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("unregistering Knative's defaulting webhook: %v", err)
		}
	})
	// The apiserver picks the configuration up from an informer: wait until a dry-run create comes
	// back defaulted (Channel.SetDefaults always adds the subscribable duck annotation).
	probe := &messagingv1.Channel{ObjectMeta: metav1.ObjectMeta{Namespace: systemNamespace, Name: "defaulting-probe"}}
	eventually(t, 30*time.Second, "Knative's defaulting webhook in force", func() (bool, string) {
		got, err := s.cluster.Eventing.MessagingV1().Channels(systemNamespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return false, err.Error()
		}
		return got.Annotations[messaging.SubscribableDuckVersionAnnotation] != "", fmt.Sprintf("annotations %v", got.Annotations)
	})
}

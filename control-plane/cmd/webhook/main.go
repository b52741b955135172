// Command webhook is knkafka's admission webhook: it defaults and validates KafkaChannels and
// KafkaSources, and validates the Kafka annotations of Triggers. WEBHOOK_NAME names its Service (and component);
// WEBHOOK_PORT its port (8443 by default); SYSTEM_NAMESPACE the namespace it runs in.
package main

import (
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"
	pkgwebhook "knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"

	"knkafka.dev/control-plane/pkg/webhook"
)

func main() {
	ctx := pkgwebhook.WithOptions(signals.NewContext(), pkgwebhook.Options{
		ServiceName: pkgwebhook.NameFromEnv(),
		Port:        pkgwebhook.PortFromEnv(8443),
		SecretName:  webhook.SecretName,
	})
	sharedmain.MainWithContext(ctx, pkgwebhook.NameFromEnv(),
		certificates.NewController,
		webhook.NewDefaultingController,
		webhook.NewValidationController,
	)
}

package dataplanestatus

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// FromEndpointSlices lists the ready pods behind the given Services of namespace (the data
// plane's ingress and dispatcher Services) and addresses each on its admin port.
func FromEndpointSlices(client kubernetes.Interface, namespace string, services []string, adminPort int) Endpoints {
	return func(ctx context.Context) ([]string, error) {
		seen := map[string]bool{}
		for _, svc := range services {
			slices, err := client.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
				LabelSelector: discoveryv1.LabelServiceName + "=" + svc,
			})
			if err != nil {
				return nil, fmt.Errorf("listing endpoints of %s/%s: %w", namespace, svc, err)
			}
			for _, s := range slices.Items {
				for _, ep := range s.Endpoints {
					if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
						continue
					}
					for _, addr := range ep.Addresses {
						seen["http://"+net.JoinHostPort(addr, strconv.Itoa(adminPort))] = true
					}
				}
			}
		}
		urls := make([]string, 0, len(seen))
		for u := range seen {
			urls = append(urls, u)
		}
		sort.Strings(urls)
		return urls, nil
	}
}

package contract

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigMaps returns the ConfigMaps that publish idx and its shards in namespace: the shards first,
// then the index, which is the order to write them in so a reader never sees an index whose
// shards are not there yet.
func ConfigMaps(namespace string, idx Index, shards []Shard) ([]*corev1.ConfigMap, error) {
	index, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("encoding contract index: %w", err)
	}
	labels := func() map[string]string { return map[string]string{ConfigMapLabel: "true"} }
	out := make([]*corev1.ConfigMap, 0, len(shards)+1)
	for _, s := range shards {
		out = append(out, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ShardName(ConfigMapName, s.Number), Labels: labels()},
			Data:       map[string]string{ShardGenerationKey: strconv.FormatUint(s.Generation, 10)},
			BinaryData: map[string][]byte{ShardKey: s.Data},
		})
	}
	out = append(out, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ConfigMapName, Labels: labels()},
		Data:       map[string]string{IndexKey: string(index)},
	})
	return out, nil
}

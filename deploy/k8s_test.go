package deploy

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Minimal Kubernetes types: only the fields the checks read.
type (
	k8sMeta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	k8sObject struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   k8sMeta           `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		Spec       yaml.Node         `yaml:"spec"`
	}
	podTemplate struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     podSpec `yaml:"spec"`
	}
	podSpec struct {
		ServiceAccountName           string       `yaml:"serviceAccountName"`
		AutomountServiceAccountToken *bool        `yaml:"automountServiceAccountToken"`
		SecurityContext              *podSecurity `yaml:"securityContext"`
		Containers                   []container  `yaml:"containers"`
		InitContainers               []container  `yaml:"initContainers"`
		RestartPolicy                string       `yaml:"restartPolicy"`
	}
	podSecurity struct {
		RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
		RunAsUser      *int  `yaml:"runAsUser"`
		SeccompProfile *struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Ports   []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
				ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		EnvFrom []struct {
			ConfigMapRef *keyRef `yaml:"configMapRef"`
			SecretRef    *keyRef `yaml:"secretRef"`
		} `yaml:"envFrom"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext *struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
	}
	keyRef struct {
		Name     string `yaml:"name"`
		Key      string `yaml:"key"`
		Optional *bool  `yaml:"optional"`
	}
	probe struct {
		HTTPGet *struct {
			Path string    `yaml:"path"`
			Port yaml.Node `yaml:"port"`
		} `yaml:"httpGet"`
	}
	deploymentSpec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
	}
	jobSpec struct {
		Template podTemplate `yaml:"template"`
	}
	hpaSpec struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas int `yaml:"minReplicas"`
		MaxReplicas int `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization int    `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	}
	pdbSpec struct {
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	}
	serviceSpec struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	}
)

// manifests is the rendered kustomize base, by kind and name.
type manifests map[string]map[string]k8sObject

func (m manifests) spec(t *testing.T, kind, name string, into any) {
	t.Helper()
	obj, ok := m[kind][name]
	require.True(t, ok, "%s %s is rendered", kind, name)
	require.NoError(t, obj.Spec.Decode(into), "%s %s spec", kind, name)
}

var (
	renderOnce sync.Once
	rendered   manifests
	renderErr  error
)

// renderBase renders deploy/k8s/base with kustomize's library (what
// `kubectl kustomize` runs).
func renderBase(t *testing.T) manifests {
	t.Helper()
	renderOnce.Do(func() {
		k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
		resMap, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), "deploy", "k8s", "base"))
		if err != nil {
			renderErr = fmt.Errorf("kustomize build deploy/k8s/base: %w", err)
			return
		}
		rendered = manifests{}
		for _, r := range resMap.Resources() {
			y, err := r.AsYAML()
			if err != nil {
				renderErr = err
				return
			}
			var obj k8sObject
			if err := yaml.Unmarshal(y, &obj); err != nil {
				renderErr = fmt.Errorf("%s: %w", r.CurId(), err)
				return
			}
			if rendered[obj.Kind] == nil {
				rendered[obj.Kind] = map[string]k8sObject{}
			}
			rendered[obj.Kind][obj.Metadata.Name] = obj
		}
	})
	require.NoError(t, renderErr)
	return rendered
}

// generated finds a generated object by its name before the hash suffix.
func (m manifests) generated(t *testing.T, kind, prefix string) k8sObject {
	t.Helper()
	var found []k8sObject
	for name, obj := range m[kind] {
		if name == prefix || strings.HasPrefix(name, prefix+"-") && len(name) == len(prefix)+11 {
			found = append(found, obj)
		}
	}
	require.Len(t, found, 1, "%s %s", kind, prefix)
	return found[0]
}

func TestKustomizeBase(t *testing.T) {
	t.Parallel()
	m := renderBase(t)

	t.Run("namespace", func(t *testing.T) {
		require.Contains(t, m["Namespace"], "aam")
		for kind, objs := range m {
			if kind == "Namespace" {
				continue
			}
			for name, obj := range objs {
				assert.Equal(t, "aam", obj.Metadata.Namespace, "%s %s", kind, name)
				assert.Equal(t, "aam", obj.Metadata.Labels["app.kubernetes.io/part-of"], "%s %s", kind, name)
			}
		}
	})

	t.Run("config", func(t *testing.T) {
		cm := m.generated(t, "ConfigMap", "aam-config")
		assert.Equal(t, "3", cm.Data["NATS_STREAM_REPLICAS"], "streams with 3 replicas on the NATS cluster")
		assert.Equal(t, "nats://nats:4222", cm.Data["NATS_URL"], "the Helm release nats in the same namespace")
		assert.Equal(t, "0.0.0.0:9090", cm.Data["HTTP_ADDR"])
		assert.Equal(t, "0.0.0.0:8080", cm.Data["GATEWAY_ADDR"])
		for k := range cm.Data {
			assert.NotRegexp(t, `SECRET|PASSWORD|TOKEN|DATABASE_URL`, k, "secrets do not go to the ConfigMap")
		}
		// Kubernetes stores Secret data base64-encoded; placeholders only.
		for name, s := range m["Secret"] {
			assert.NotEmpty(t, s.Data, "Secret %s", name)
		}
	})

	for _, r := range roles {
		t.Run(r.Name, func(t *testing.T) {
			name := "aam-" + r.Name
			var d deploymentSpec
			m.spec(t, "Deployment", name, &d)
			pod := d.Template
			assert.Equal(t, d.Selector.MatchLabels, subset(pod.Metadata.Labels, d.Selector.MatchLabels), "selector matches the pod labels")
			assert.Equal(t, r.Name, pod.Metadata.Labels["app.kubernetes.io/component"])
			require.Len(t, pod.Spec.Containers, 1)
			c := pod.Spec.Containers[0]
			assert.Equal(t, []string{r.Binary}, c.Command, "the command chooses the role")
			assert.Equal(t, "aam:latest", c.Image)

			checkProbes(t, c, r.Port)
			checkResources(t, name, c)
			checkPodSecurity(t, name, pod.Spec)
			checkSecretRefs(t, m, name, pod.Spec)
			assert.Equal(t, strconv.Itoa(r.Port), pod.Metadata.Annotations["prometheus.io/port"])

			env := envOf(c)
			assert.Equal(t, r.NATSUser, env["NATS_USER"])
			assert.Equal(t, r.InboxPrefix(), env["NATS_INBOX_PREFIX"])
			assert.Equal(t, "secret:aam-nats-users/"+passwordVar(r.NATSUser), env["NATS_PASSWORD"])
			assert.True(t, strings.HasPrefix(env["DATABASE_URL"], "secret:aam-database-"), "DATABASE_URL from the aam-database Secret")
			assert.Equal(t, r.Airbyte, env["AIRBYTE_CLIENT_SECRET"] != "", "Airbyte credentials only for Airbyte roles")
			assert.Equal(t, r.Name == "credential-broker", env["AAM_SECRET_KEY"] != "", "AAM_SECRET_KEY only for the broker")
			assert.Equal(t, r.Name == "gateway", env["GATEWAY_TOKENS"] != "", "GATEWAY_TOKENS only for the gateway")

			// Every role can be drained one pod at a time.
			pdb := findPDB(t, m, pod.Metadata.Labels)
			assert.True(t, pdb.MaxUnavailable != nil || pdb.MinAvailable != nil, "PDB %s sets a budget", name)

			// Workers scale on CPU; the HPA owns their replica count.
			hpa, hasHPA := findHPA(t, m, name)
			assert.Equal(t, r.Worker, hasHPA, "HPA for workers (only)")
			if r.Worker {
				assert.Nil(t, d.Replicas, "the HPA sets the replicas of %s", name)
				assert.Equal(t, "Deployment", hpa.ScaleTargetRef.Kind)
				assert.GreaterOrEqual(t, hpa.MinReplicas, 2, "two workers at least: a PDB can then let one go")
				assert.Greater(t, hpa.MaxReplicas, hpa.MinReplicas)
				require.Len(t, hpa.Metrics, 1)
				assert.Equal(t, "cpu", hpa.Metrics[0].Resource.Name)
				assert.Equal(t, "Utilization", hpa.Metrics[0].Resource.Target.Type)
				assert.NotEmpty(t, c.Resources.Requests["cpu"], "CPU utilisation needs a CPU request")
			}

			// A Service exposes the role's HTTP port (the gateway's API, the
			// others' metrics).
			svc := findService(t, m, pod.Metadata.Labels)
			require.NotEmpty(t, svc.Ports)
			assert.Equal(t, portByName(t, c, svc.Ports[0].TargetPort), r.Port)
		})
	}

	t.Run("migrate job", func(t *testing.T) {
		var j jobSpec
		m.spec(t, "Job", "aam-migrate", &j)
		pod := j.Template.Spec
		require.Len(t, pod.Containers, 1)
		c := pod.Containers[0]
		assert.Equal(t, []string{"aam", "migrate", "up"}, c.Command)
		assert.Equal(t, "Never", pod.RestartPolicy)
		checkResources(t, "aam-migrate", c)
		checkPodSecurity(t, "aam-migrate", pod)
		checkSecretRefs(t, m, "aam-migrate", pod)
		env := envOf(c)
		assert.Equal(t, "admin", env["NATS_USER"])
		assert.Equal(t, "secret:aam-nats-users/ADMIN_NATS_PASSWORD", env["NATS_PASSWORD"])
	})

	t.Run("no admin password elsewhere", func(t *testing.T) {
		for name := range m["Deployment"] {
			var d deploymentSpec
			m.spec(t, "Deployment", name, &d)
			for _, c := range d.Template.Spec.Containers {
				for k, v := range envOf(c) {
					assert.NotContains(t, v, "ADMIN_NATS_PASSWORD", "%s %s", name, k)
				}
			}
		}
	})
}

func subset(labels, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func findPDB(t *testing.T, m manifests, podLabels map[string]string) pdbSpec {
	t.Helper()
	var found []pdbSpec
	for name := range m["PodDisruptionBudget"] {
		var p pdbSpec
		m.spec(t, "PodDisruptionBudget", name, &p)
		if selects(p.Selector.MatchLabels, podLabels) {
			found = append(found, p)
		}
	}
	require.Len(t, found, 1, "one PodDisruptionBudget selects pods %v", podLabels)
	return found[0]
}

func findHPA(t *testing.T, m manifests, deployment string) (hpaSpec, bool) {
	t.Helper()
	for name := range m["HorizontalPodAutoscaler"] {
		var h hpaSpec
		m.spec(t, "HorizontalPodAutoscaler", name, &h)
		if h.ScaleTargetRef.Name == deployment {
			assert.Equal(t, "autoscaling/v2", m["HorizontalPodAutoscaler"][name].APIVersion)
			return h, true
		}
	}
	return hpaSpec{}, false
}

func findService(t *testing.T, m manifests, podLabels map[string]string) serviceSpec {
	t.Helper()
	var found []serviceSpec
	for name := range m["Service"] {
		var s serviceSpec
		m.spec(t, "Service", name, &s)
		if selects(s.Selector, podLabels) {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "one Service selects pods %v", podLabels)
	return found[0]
}

// portByName resolves a port given by number or by container port name.
func portByName(t *testing.T, c container, n yaml.Node) int {
	t.Helper()
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	for _, p := range c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, n.Value)
	return 0
}

func checkProbes(t *testing.T, c container, port int) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		require.NotNil(t, p.probe, "%s: %s probe", c.Name, p.name)
		require.NotNil(t, p.probe.HTTPGet, "%s: %s probe is an HTTP GET", c.Name, p.name)
		assert.Equal(t, p.path, p.probe.HTTPGet.Path, "%s: %s probe path", c.Name, p.name)
		assert.Equal(t, port, portByName(t, c, p.probe.HTTPGet.Port), "%s: %s probe port", c.Name, p.name)
	}
}

func checkResources(t *testing.T, name string, c container) {
	t.Helper()
	for _, res := range []string{"cpu", "memory"} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		require.NotEmpty(t, req, "%s: %s request", name, res)
		require.NotEmpty(t, lim, "%s: %s limit", name, res)
		assert.LessOrEqual(t, quantity(t, req), quantity(t, lim), "%s: %s request <= limit", name, res)
	}
}

func checkPodSecurity(t *testing.T, name string, pod podSpec) {
	t.Helper()
	sc := pod.SecurityContext
	require.NotNil(t, sc, "%s: pod securityContext", name)
	require.NotNil(t, sc.RunAsNonRoot, "%s: runAsNonRoot", name)
	assert.True(t, *sc.RunAsNonRoot, "%s: runAsNonRoot", name)
	require.NotNil(t, sc.RunAsUser, "%s: runAsUser", name)
	assert.NotZero(t, *sc.RunAsUser, "%s: runAsUser", name)
	require.NotNil(t, sc.SeccompProfile, "%s: seccompProfile", name)
	assert.Equal(t, "RuntimeDefault", sc.SeccompProfile.Type)
	require.NotNil(t, pod.AutomountServiceAccountToken, "%s: automountServiceAccountToken", name)
	assert.False(t, *pod.AutomountServiceAccountToken, "%s: no Kubernetes API token", name)
	for _, c := range append(slices.Clone(pod.Containers), pod.InitContainers...) {
		csc := c.SecurityContext
		require.NotNil(t, csc, "%s/%s: container securityContext", name, c.Name)
		require.NotNil(t, csc.AllowPrivilegeEscalation)
		assert.False(t, *csc.AllowPrivilegeEscalation, "%s/%s: allowPrivilegeEscalation", name, c.Name)
		require.NotNil(t, csc.ReadOnlyRootFilesystem)
		assert.True(t, *csc.ReadOnlyRootFilesystem, "%s/%s: readOnlyRootFilesystem", name, c.Name)
		assert.Equal(t, []string{"ALL"}, csc.Capabilities.Drop, "%s/%s: capabilities", name, c.Name)
	}
}

// checkSecretRefs: every Secret and ConfigMap the pod reads exists and, for
// a required key, holds it.
func checkSecretRefs(t *testing.T, m manifests, name string, pod podSpec) {
	t.Helper()
	for _, c := range pod.Containers {
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				assert.Contains(t, m["ConfigMap"], ef.ConfigMapRef.Name, "%s: envFrom ConfigMap", name)
			}
			if ef.SecretRef != nil {
				assert.Contains(t, m["Secret"], ef.SecretRef.Name, "%s: envFrom Secret", name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			for kind, ref := range map[string]*keyRef{"Secret": e.ValueFrom.SecretKeyRef, "ConfigMap": e.ValueFrom.ConfigMapKeyRef} {
				if ref == nil {
					continue
				}
				obj, ok := m[kind][ref.Name]
				if !assert.True(t, ok, "%s: %s reads %s %s, which is not rendered", name, e.Name, kind, ref.Name) {
					continue
				}
				if ref.Optional == nil || !*ref.Optional {
					assert.Contains(t, obj.Data, ref.Key, "%s: %s reads key %s of %s %s", name, e.Name, ref.Key, kind, ref.Name)
				}
			}
		}
	}
}

// envOf maps env names to their value, or "secret:<name>/<key>".
func envOf(c container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			env[e.Name] = "configmap:" + e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

var quantityRe = regexp.MustCompile(`^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$`)

// quantity parses the Kubernetes quantities used here into a float.
func quantity(t *testing.T, s string) float64 {
	t.Helper()
	mm := quantityRe.FindStringSubmatch(s)
	require.NotNil(t, mm, "quantity %q", s)
	v, err := strconv.ParseFloat(mm[1], 64)
	require.NoError(t, err)
	mult := map[string]float64{"": 1, "m": 1e-3, "k": 1e3, "Ki": 1 << 10, "M": 1e6, "Mi": 1 << 20, "G": 1e9, "Gi": 1 << 30, "T": 1e12, "Ti": 1 << 40}
	return v * mult[mm[2]]
}

// helmValues is the part of deploy/k8s/nats/values.yaml the checks read.
type helmValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `yaml:"enabled"`
			Replicas int  `yaml:"replicas"`
		} `yaml:"cluster"`
		JetStream struct {
			Enabled   bool `yaml:"enabled"`
			FileStore struct {
				Enabled bool   `yaml:"enabled"`
				Dir     string `yaml:"dir"`
				PVC     struct {
					Enabled bool   `yaml:"enabled"`
					Size    string `yaml:"size"`
				} `yaml:"pvc"`
			} `yaml:"fileStore"`
			Merge map[string]any `yaml:"merge"`
		} `yaml:"jetstream"`
		Merge map[string]any `yaml:"merge"`
	} `yaml:"config"`
	Container struct {
		Env map[string]yaml.Node `yaml:"env"`
	} `yaml:"container"`
	PodDisruptionBudget struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"podDisruptionBudget"`
}

func TestNATSHelmValues(t *testing.T) {
	t.Parallel()
	var v helmValues
	require.NoError(t, yaml.Unmarshal([]byte(readFile(t, "deploy/k8s/nats/values.yaml")), &v))

	assert.True(t, v.Config.Cluster.Enabled, "cluster")
	assert.Equal(t, 3, v.Config.Cluster.Replicas, "3 NATS servers")
	js := v.Config.JetStream
	assert.True(t, js.Enabled, "JetStream")
	assert.True(t, js.FileStore.Enabled, "file storage")
	assert.True(t, js.FileStore.PVC.Enabled, "file storage on a PersistentVolumeClaim")
	assert.NotEmpty(t, js.FileStore.PVC.Size)
	assert.NotContains(t, js.Merge, "sync_interval", "the documented choice: default fsync interval on the R3 cluster")
	assert.True(t, v.PodDisruptionBudget.Enabled)

	t.Run("passwords from the aam-nats-users Secret", func(t *testing.T) {
		m := renderBase(t)
		secret, ok := m["Secret"]["aam-nats-users"]
		require.True(t, ok, "Secret aam-nats-users is rendered without a hash suffix: the Helm release reads it by name")
		for _, u := range natsUsers {
			node, ok := v.Container.Env[passwordVar(u)]
			require.True(t, ok, "container.env.%s", passwordVar(u))
			var ref struct {
				ValueFrom struct {
					SecretKeyRef keyRef `yaml:"secretKeyRef"`
				} `yaml:"valueFrom"`
			}
			require.NoError(t, node.Decode(&ref))
			assert.Equal(t, keyRef{Name: "aam-nats-users", Key: passwordVar(u)}, ref.ValueFrom.SecretKeyRef)
			assert.Contains(t, secret.Data, passwordVar(u))
		}
	})

	t.Run("accounts match nats/accounts.conf", func(t *testing.T) {
		want, err := conf.ParseFile(filepath.Join(repoRoot(t), "deploy", "nats", "accounts.conf"))
		require.NoError(t, err)
		got := map[string]any{}
		for _, k := range []string{"accounts", "system_account"} {
			require.Contains(t, v.Config.Merge, k, "config.merge.%s", k)
			got[k] = resolveHelmVars(t, v.Config.Merge[k])
		}
		assert.Equal(t, want, got, "the accounts of values.yaml (config.merge) and of deploy/nats/accounts.conf differ")
		assert.ElementsMatch(t, natsUsers, usersOf(want), "users")
	})
}

var helmVarRe = regexp.MustCompile(`^<<\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*>>$`)

// resolveHelmVars replaces the chart's unquoted variable references
// ("<< $NAME >>") by what nats-server reads for them: the environment value.
func resolveHelmVars(t *testing.T, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = resolveHelmVars(t, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolveHelmVars(t, e)
		}
		return out
	case string:
		if m := helmVarRe.FindStringSubmatch(x); m != nil {
			p, ok := lookupEnv(m[1])
			require.True(t, ok, "variable %s is not set", m[1])
			return p
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

func lookupEnv(name string) (string, bool) {
	for _, u := range natsUsers {
		if passwordVar(u) == name {
			return passwords[u], true
		}
	}
	return "", false
}

func usersOf(accounts map[string]any) []string {
	var users []string
	accs, _ := accounts["accounts"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(accs)) {
		acc, _ := accs[name].(map[string]any)
		list, _ := acc["users"].([]any)
		for _, u := range list {
			if um, ok := u.(map[string]any); ok {
				users = append(users, fmt.Sprint(um["user"]))
			}
		}
	}
	return users
}

// Package deploy holds the tests of AAM's deployment files: the Dockerfile,
// docker-compose.yml and .env.example at the repository root, the Kubernetes
// manifests in k8s/ (kustomize base and the NATS Helm chart values) and the
// NATS server configuration in nats/ (cluster, single node, accounts and
// per-role permissions).
//
// The tests need docker-compose (Debian's package) on PATH; run
// scripts/install-test-tools.sh once on a new machine.
package deploy

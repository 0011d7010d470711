#!/usr/bin/env bash
# Build this folder for linux/amd64, log in to the registry, push. The service stack's
# terraform_data hook runs it with IMAGE_URI (registry/repository:tag), AWS_REGION and
# CONTAINER_CLI (docker or podman). Set SKIP_ECR_LOGIN=1 for a registry that needs no login,
# and PUSH_ARGS for extra push flags (e.g. --tls-verify=false for a local test registry).
set -euo pipefail
: "${IMAGE_URI:?IMAGE_URI is required (registry/repository:tag)}"
cli="${CONTAINER_CLI:-docker}"
registry="${IMAGE_URI%%/*}"
cd "$(dirname "$0")"

repository="${IMAGE_URI#*/}"
tag="${repository##*:}"
repository="${repository%:*}"

tag_in_registry() {
  # podman 4 inspects only manifest lists; its tag listing works for any v2 registry.
  if [ "$(basename "${cli}")" = podman ]; then
    # shellcheck disable=SC2086  # PUSH_ARGS is a list of flags (e.g. --tls-verify=false)
    "${cli}" search --list-tags ${PUSH_ARGS:-} "${registry}/${repository}" 2>/dev/null \
      | awk 'NR > 1 { print $2 }' | grep -qxF "${tag}"
  else
    "${cli}" manifest inspect "${IMAGE_URI}" >/dev/null 2>&1
  fi
}

# Tags are immutable: a tag the registry already holds is this same content (the tag is its
# hash), so a rollback to an earlier image/ or a re-run after a failed apply pushes nothing.
if [ -z "${SKIP_ECR_LOGIN:-}" ]; then
  # An ECR registry names its region: <account>.dkr.ecr.<region>.amazonaws.com[.cn].
  if [ -z "${AWS_REGION:-}" ] && [[ "${registry}" =~ ^[0-9]+\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$ ]]; then
    AWS_REGION="${BASH_REMATCH[1]}"
  fi
  : "${AWS_REGION:?AWS_REGION is required for the ECR login (IMAGE_URI is not an ECR URI that names one)}"
  if aws ecr describe-images --region "${AWS_REGION}" --repository-name "${repository}" \
       --image-ids "imageTag=${tag}" >/dev/null 2>&1; then
    echo "${IMAGE_URI} is already in the repository; skipping the build and push"
    exit 0
  fi
  aws ecr get-login-password --region "${AWS_REGION}" | "${cli}" login --username AWS --password-stdin "${registry}"
elif tag_in_registry; then
  echo "${IMAGE_URI} is already in the registry; skipping the build and push"
  exit 0
fi

echo "building ${IMAGE_URI} with ${cli}"
# shellcheck disable=SC2086  # BUILD_ARGS is a list of flags
"${cli}" build --platform linux/amd64 ${BUILD_ARGS:-} -t "${IMAGE_URI}" .
# shellcheck disable=SC2086  # PUSH_ARGS is a list of flags
"${cli}" push ${PUSH_ARGS:-} "${IMAGE_URI}"
echo "pushed ${IMAGE_URI}"

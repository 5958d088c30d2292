#!/usr/bin/env bash
# Packs the four packages and the circuitbreaker .NET tool (Release, version from Directory.Build.props) into
# artifacts/packages, for a local feed.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for project in src/Polly.Distributed.CircuitBreaker src/Polly.Distributed.CircuitBreaker.Http src/Providers.DynamoDb src/Providers.Redis \
  src/Polly.Distributed.CircuitBreaker.Cli; do
  dotnet pack "$REPO_ROOT/$project" -c Release -o "$REPO_ROOT/artifacts/packages" -nologo -v quiet \
    | grep -v -E '^\s*$|warning : (Repository .* has no remote|Repository has no commit|Source control information is not available|The URL of repository remote)' || true
done
ls "$REPO_ROOT/artifacts/packages"

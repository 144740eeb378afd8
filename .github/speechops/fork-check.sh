#!/usr/bin/env bash
# Pull request from a fork: validate only. Code from a fork is not run with the org's
# credentials (they are not given to this job), so no plan is computed; the job summary
# says why.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$SPEECHOPS" validate --format markdown > validate.md
code=$?
{
  echo "### speechops: validated only (pull request from a fork)"
  echo
  echo "Pull requests from forks never receive the org's credentials, so no plan was"
  echo "computed. A maintainer can push this branch to the repository to get the plan."
  echo
  cat validate.md
} | summary
cat validate.md
rm -f validate.md
exit "$code"

# Stand-in for the pip bootstrap script that ansible-test downloads into each
# sanity test's empty virtual environment. That download comes from a host the
# project's machines cannot reach, so scripts/test.sh puts this file in
# ansible-test's cache instead. It installs pip from Python's own ensurepip,
# then runs pip with the arguments ansible-test gives the original script.
# ansible-test hides pip's configuration files (PIP_CONFIG_FILE=/dev/null), so
# the machine's CA bundle, when there is one, is passed to pip here.
import ensurepip
import os
import subprocess
import sys

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

ensurepip.bootstrap(upgrade=False)
pip_args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if os.path.exists(CA_BUNDLE):
    pip_args = ["--cert", CA_BUNDLE] + pip_args
subprocess.check_call([sys.executable, "-m", "pip", "install"] + pip_args)

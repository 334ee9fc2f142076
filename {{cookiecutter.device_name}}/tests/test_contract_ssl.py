"""Contract: SSL. With --ssl, the controller serves a client that
presents the certificate it trusts, and no other. These tests name no
method of the example device: they must pass unchanged once the driver is
yours."""

import pytest

from conftest import NAME, SIPYCO_MISSING, run_controller

pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
from sipyco.pc_rpc import Client

from certificates import client_ssl_config


def test_the_trusted_client_is_served(ssl_served):
    assert ssl_served.ping() is True


@pytest.mark.parametrize("ssl_config", [
    pytest.param(None, id="plain"),
    pytest.param("stranger", id="untrusted-certificate"),
])
def test_any_other_client_is_refused(ssl_served, ssl_config):
    if ssl_config:
        ssl_config = client_ssl_config(ssl_config)
    # Refused during the handshake, or closed at once.
    with pytest.raises((OSError, EOFError)):
        client = Client("127.0.0.1", ssl_served.port, NAME, timeout=5,
                        ssl_config=ssl_config)
        client.close_rpc()
    assert ssl_served.ping() is True  # and it keeps serving


def test_missing_certificate_files_give_one_error_line(tmp_path):
    missing = str(tmp_path / "missing.pem")
    result = run_controller("--simulation", "--ssl", missing, missing,
                            missing)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"aqctl_{NAME}: error: cannot use the --ssl files: ")

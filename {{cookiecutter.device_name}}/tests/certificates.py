{%- set name = cookiecutter.device_name -%}
"""Throwaway certificates for the SSL tests, made with the openssl command
in a temporary folder: the controller's, a client's it trusts, and a
stranger's it does not."""

import atexit
import functools
import pathlib
import shutil
import subprocess
import tempfile

import pytest

NAME = "{{ name }}"
OPENSSL_MISSING = ("the openssl command is not on PATH: it makes the SSL "
                   "tests' throwaway certificates")


def openssl(*arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True)


def make_certificate(folder, name):
    """<name>.pem and <name>.key: a self-signed certificate, its key. An
    elliptic-curve key (P-256): made at once, where RSA takes a second."""
    curve = folder / "p-256.pem"
    if not curve.exists():
        openssl("ecparam", "-name", "prime256v1", "-out", str(curve))
    openssl("req", "-x509", "-newkey", f"ec:{curve}", "-nodes", "-sha256",
            "-days", "2", "-subj", f"/CN={name}",
            "-keyout", str(folder / f"{name}.key"),
            "-out", str(folder / f"{name}.pem"))


@functools.lru_cache(maxsize=None)
def certificates():
    """The folder holding them, laid out as ARTIQ_SSL_DIR is."""
    if shutil.which("openssl") is None:
        pytest.skip(OPENSSL_MISSING)
    folder = pathlib.Path(tempfile.mkdtemp(prefix="ssl-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name in (NAME, "client", "stranger"):
        make_certificate(folder, name)
    return folder


def controller_ssl_arguments():
    """--ssl CERT KEY PEER: the controller trusts the client alone."""
    folder = certificates()
    return ["--ssl", str(folder / f"{NAME}.pem"), str(folder / f"{NAME}.key"),
            str(folder / "client.pem")]


def client_ssl_arguments(client="client"):
    """--ssl CERT KEY PEER for aqcli and sipyco_rpctool."""
    folder = certificates()
    return ["--ssl", str(folder / f"{client}.pem"),
            str(folder / f"{client}.key"), str(folder / f"{NAME}.pem")]


def client_ssl_config(client="client"):
    """What a client presents (its certificate and key), and trusts."""
    from sipyco.tools import SimpleSSLConfig

    folder = certificates()
    return SimpleSSLConfig(str(folder / f"{client}.pem"),
                           str(folder / f"{client}.key"),
                           str(folder / f"{NAME}.pem"))

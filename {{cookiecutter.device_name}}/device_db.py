{%- set name = cookiecutter.device_name -%}
{%- set ssl_dir = "{ARTIQ_SSL_DIR}/" -%}
# The controller's device_db entry: merge it into your ARTIQ device_db.py.
# artiq_ctlmgr starts the controller, pings it every 30 s (restarting it when
# ping() fails) and stops it. For a run without hardware, append
# "--simulation" to the command: it wins over -d.
#
# artiq_ctlmgr starts only the entries whose "host" resolves to the address
# it reaches the master from, and passes that address as {bind}.
# "localhost" matches when the master runs on this machine, whether
# localhost means 127.0.0.1, ::1 or both. For a controller on another
# machine, give the address (or a name for it) from which that machine
# reaches the master. At exit artiq_ctlmgr cannot resolve a name, so it
# stops the controller with SIGTERM instead of the terminate RPC: the
# controller still exits cleanly, and the log shows one warning.

device_db = {
    "{{ name }}": {
        "type": "controller",
        "host": "localhost",
        "port": {{ cookiecutter.default_port }},
        # Needed by a controller that serves more than one target (the
        # driver's arrays, remote execution).
        "target_name": "{{ name }}",
        "command": "aqctl_{{ name }} -p {port} --bind {bind} "
                   "--no-localhost-bind -d {{ cookiecutter.__address }}",
    },
{%- if cookiecutter.remote_exec %}
    # Remote execution: code that an experiment runs in the controller's
    # own process, next to the driver (sipyco.remote_exec).
    "{{ name }}_aux": {
        "type": "controller_aux_target",
        "controller": "{{ name }}",
        "target_name": "{{ name }}_rexec",
    },
{%- endif %}
{%- if cookiecutter.include_mediator %}
    # The mediator: what experiments use, kernels included.
    "{{ name }}_mediator": {
        "type": "local",
        "module": "{{ name }}.mediator",
        "class": "{{ cookiecutter.__driver_class }}Mediator",
        "arguments": {"controller": "{{ name }}",
                      "trigger": "ttl_{{ name }}_trigger"},
    },
    # For a run without hardware, in ARTIQ's host simulator: in your
    # device_db, keep your own "core" and name your TTL output instead.
    "core": {
        "type": "local",
        "module": "artiq.sim.devices",
        "class": "Core",
        "arguments": {},
    },
    "ttl_{{ name }}_trigger": {
        "type": "local",
        "module": "artiq.sim.devices",
        "class": "Output",
        "arguments": {"name": "ttl_{{ name }}_trigger"},
    },
{%- endif %}
}

# With SSL (mutual TLS), the same entry carries the certificates, which
# artiq_ctlmgr and ARTIQ's device manager read from the folder that the
# ARTIQ_SSL_DIR environment variable names (README.md says how to make
# them): use this entry instead of the one above.{{ " Not with remote\n# execution: ARTIQ opens controller_aux_target without SSL." if cookiecutter.remote_exec }}
with_ssl = {
    "{{ name }}": dict(
        device_db["{{ name }}"],
        command=device_db["{{ name }}"]["command"]
        + " --ssl {{ ssl_dir }}{{ name }}.pem"
          " {{ ssl_dir }}{{ name }}.key"
          " {{ ssl_dir }}client.pem",
        simple_ssl_config={
            "client_cert": "{{ ssl_dir }}client.pem",
            "client_key": "{{ ssl_dir }}client.key",
            "server_cert": "{{ ssl_dir }}{{ name }}.pem",
        }),
}

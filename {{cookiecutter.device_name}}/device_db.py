{%- set name = cookiecutter.device_name -%}
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
        "command": "aqctl_{{ name }} -p {port} --bind {bind} "
                   "--no-localhost-bind -d {{ example_addresses[cookiecutter.transport] }}",
    },
}

{%- set name = cookiecutter.device_name -%}
# The controller's device_db entry: merge it into your ARTIQ device_db.py.
# artiq_ctlmgr on the machine at "host" starts the controller, pings it and
# stops it. For a run without hardware, replace "-d console" with
# "--simulation".
#
# "host" is that machine's IP address as artiq_ctlmgr reaches the master
# ("::1" when both run here). Give an address, not a host name: at exit,
# artiq_ctlmgr can no longer resolve names, so it could not ask the
# controller to terminate and would have to signal it instead.

device_db = {
    "{{ name }}": {
        "type": "controller",
        "host": "::1",
        "port": {{ cookiecutter.default_port }},
        "command": "aqctl_{{ name }} -p {port} --bind {bind} "
                   "--no-localhost-bind -d console",
    },
}

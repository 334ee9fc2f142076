{%- set name = cookiecutter.device_name -%}
# The controller's device_db entry: merge it into your ARTIQ device_db.py.
# artiq_ctlmgr on the machine named by "host" starts the controller, pings
# it and stops it. For a run without hardware, replace "-d console" with
# "--simulation".

device_db = {
    "{{ name }}": {
        "type": "controller",
        "host": "localhost",
        "port": {{ cookiecutter.default_port }},
        "command": "aqctl_{{ name }} -p {port} --bind {bind} "
                   "--no-localhost-bind -d console",
    },
}

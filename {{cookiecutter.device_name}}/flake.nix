{%- set name = cookiecutter.device_name -%}
{
  description = {{ ("ARTIQ network device support package for the " ~ cookiecutter.device_title) | nix_string }};

  # sipyco, artiq-comtools and nixpkgs as the ARTIQ flake pins them, so that
  # this package runs beside the ARTIQ it serves. ARTIQ's master: this
  # package needs sipyco 1.10 or newer, which no ARTIQ release branch pins
  # yet (release-8 pins 1.8).
  inputs.artiq.url = "git+https://github.com/m-labs/artiq.git";

  outputs = { self, artiq }:
    let
      system = "x86_64-linux";
      pkgs = artiq.inputs.nixpkgs.legacyPackages.${system};
      sipyco = artiq.inputs.sipyco.packages.${system}.sipyco;
      artiq-comtools = artiq.inputs.artiq-comtools.packages.${system}.artiq-comtools;

      package = pkgs.python3Packages.buildPythonPackage {
        pname = "{{ name }}";
        version = "0.1.0";
        pyproject = true;
        src = self;
        build-system = [ pkgs.python3Packages.setuptools ];
        # pyproject.toml's dependencies, from the ARTIQ flake and nixpkgs.
        dependencies = [
          sipyco{% for library in (cookiecutter | project_dependencies)[1:] %}
          pkgs.python3Packages.{{ library | requirement_name }}{% endfor %}{% if cookiecutter.include_mediator %}
          artiq.packages.${system}.artiq  # for the mediator's kernels{% endif %}
        ];
        pythonImportsCheck = [ "{{ name }}" ];
        # The tests start controllers on loopback ports, and artiq_master:
        # run them in the dev shell instead (nix develop -c pytest).
        doCheck = false;
      };
    in {
      packages.${system} = {
        {{ name }} = package;
        default = package;
      };

      # nix run . -- --simulation
      apps.${system}.default = {
        type = "app";
        program = "${package}/bin/aqctl_{{ name }}";
      };

      # nix develop: this package as built on entering the shell (its
      # console scripts for the artiq_ctlmgr test), ARTIQ, flake8 and pytest.
      devShells.${system}.default = pkgs.mkShell {
        packages = [
          (pkgs.python3.withPackages (ps: [
            package
            artiq-comtools
            artiq.packages.${system}.artiq
            ps.flake8
            ps.pytest
          ]))
          pkgs.openssl
        ];
      };
    };
}

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

      # Name, version and dependencies: pyproject.toml's, read, not copied.
      project = (builtins.fromTOML (builtins.readFile ./pyproject.toml)).project;
      # "pyvisa-py>=0.7" -> pkgs.python3Packages.pyvisa-py; sipyco from the
      # ARTIQ flake, the others from its nixpkgs (PEP 503 names).
      nameOf = requirement: pkgs.lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ]
        (builtins.head (builtins.match "([A-Za-z0-9._-]+).*" requirement)));
      pythonPackage = requirement:
        let name = nameOf requirement;
        in if name == "sipyco" then sipyco else pkgs.python3Packages.${name};

      package = pkgs.python3Packages.buildPythonPackage {
        pname = project.name;
        inherit (project) version;
        pyproject = true;
        src = self;
        build-system = [ pkgs.python3Packages.setuptools ];
        dependencies = map pythonPackage project.dependencies{% if cookiecutter.include_mediator %}
          # The mediator's kernels.
          ++ [ artiq.packages.${system}.artiq ]{% endif %};
        pythonImportsCheck = [ project.name ];
        # The tests start controllers on loopback ports, and artiq_master:
        # run them in the dev shell instead (nix develop -c python -m pytest).
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

  # The M-Labs binary cache, as the ARTIQ manual and ARTIQ's own flake give
  # it: ARTIQ comes built instead of compiling for hours. nix asks once
  # whether to use it (--accept-flake-config says yes).
  nixConfig = {
    extra-trusted-public-keys = "nixbld.m-labs.hk-1:5aSRVA5b320xbNvu30tqxVPXpld73bhtOeH6uAjRyHc=";
    extra-substituters = "https://nixbld.m-labs.hk";
  };
}

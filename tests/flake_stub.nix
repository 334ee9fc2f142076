# A flake's outputs, evaluated with its artiq input stood in for: nixpkgs
# holds only `names` (and what a flake's let binds), so a name the flake
# does not use fails the evaluation. Packages are { pname }; the built
# package's store path is /nix/store/<pname>. `ndsp`, for a lab's flake
# that takes a generated NDSP as an input: that input's name.
{ flakePath, names, ndsp ? null }:
let
  flake = import flakePath;
  stub = name: { pname = name; };
  letters = string: builtins.genList (i: builtins.substring i 1 string) 26;
  toLower = builtins.replaceStrings (letters "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    (letters "abcdefghijklmnopqrstuvwxyz");
  python3Packages = builtins.listToAttrs
    (map (name: { inherit name; value = stub name; }) names) // {
      buildPythonPackage = args: args // { outPath = "/nix/store/" + args.pname; };
    };
  artiq = {
    inputs.nixpkgs.legacyPackages.x86_64-linux = {
      inherit python3Packages;
      lib = { inherit toLower; };
      python3.withPackages = select: { withPackages = select python3Packages; };
      mkShell = args: args;
      openssl = stub "openssl";
    };
    inputs.sipyco.packages.x86_64-linux.sipyco = stub "sipyco";
    inputs.artiq-comtools.packages.x86_64-linux.artiq-comtools = stub "artiq-comtools";
    packages.x86_64-linux.artiq = stub "artiq";
  };
  ndspInput = if ndsp == null then { } else {
    ${ndsp}.packages.x86_64-linux.default = stub ndsp;
  };
  outputs = flake.outputs ({ self = "/source"; inherit artiq; } // ndspInput);
  withoutStorePath = package: builtins.removeAttrs package [ "outPath" ];
in {
  inherit (flake) inputs;
  description = flake.description or null;
  nixConfig = flake.nixConfig or null;
  packages = builtins.mapAttrs (_: withoutStorePath)
    (outputs.packages.x86_64-linux or { });
  app = outputs.apps.x86_64-linux.default or null;
  shell = outputs.devShells.x86_64-linux.default;
}

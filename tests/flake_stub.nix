# A generated flake's outputs, evaluated with its artiq input stood in for:
# nixpkgs holds only `names` (and what a flake's let binds), so a name the
# project does not use fails the evaluation. Packages are { pname }; the
# built package's store path is /nix/store/<pname>.
{ flakePath, names }:
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
  outputs = flake.outputs { self = "/source"; inherit artiq; };
  withoutStorePath = package: builtins.removeAttrs package [ "outPath" ];
in {
  inherit (flake) description inputs nixConfig;
  packages = builtins.mapAttrs (_: withoutStorePath) outputs.packages.x86_64-linux;
  app = outputs.apps.x86_64-linux.default;
  shell = outputs.devShells.x86_64-linux.default;
}

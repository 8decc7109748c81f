#!/bin/bash
# Builds what one GPU call takes (the GPU machine has no .NET): publish.sh DEST WORKTREE:NAME...
# Each worktree's GPU benchmark, GPU tests and TrainBench are published framework-dependent into NAME/{bench,tests,train}
# (pdb, xml docs and the code-coverage collector left out), all NAMEs packed into DEST/apps.tar.xz (xz -9 shares the
# common assemblies), one copy of this machine's .NET runtime into DEST/runtime.tar.xz, and run.sh beside them.
set -e
dest=$1; shift; mkdir -p $dest; stage=$(mktemp -d)
for spec in "$@"; do
  wt=${spec%%:*}; name=${spec#*:}
  for p in perf/Candle.Perf.Gpu:bench tests/Candle.Compiler.Gpu.Tests:tests perf/Candle.TrainBench:train; do
    (cd $wt && dotnet publish ${p%%:*} -c Release --no-self-contained -p:InvariantGlobalization=true -o $stage/$name/${p#*:} -v q -nologo)
  done
  rm -rf $stage/$name/tests/Microsoft.CodeCoverage; find $stage/$name \( -name '*.pdb' -o -name '*.xml' \) -delete
done
tar -C $stage -cf - "${@##*:}" | xz -9e -T2 > $dest/apps.tar.xz
d=$(dirname $(readlink -f $(which dotnet))); v=$(ls $d/shared/Microsoft.NETCore.App | sort -V | tail -1)
mkdir -p $stage/rt/dotnet/shared/Microsoft.NETCore.App && cp -a $d/dotnet $d/host $stage/rt/dotnet/ && cp -a $d/shared/Microsoft.NETCore.App/$v $stage/rt/dotnet/shared/Microsoft.NETCore.App/
tar -C $stage/rt -cJf $dest/runtime.tar.xz dotnet
cp "$(dirname "$0")/run.sh" "$(dirname "$0")/ncu_summary.py" $dest/; rm -rf $stage; ls -la $dest

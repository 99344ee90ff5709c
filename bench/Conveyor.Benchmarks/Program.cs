using BenchmarkDotNet.Running;
using Conveyor.Benchmarks;

// `overload bounded|unbounded [seconds]` runs the console overload scenario; anything else goes to
// BenchmarkDotNet, e.g. dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*Handoff*'
if (args is ["overload", var mode, ..])
{
    return await Overload.RunAsync(mode, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

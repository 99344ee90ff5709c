using BenchmarkDotNet.Running;
using Conveyor.Benchmarks;

// Console scenarios first; anything else goes to BenchmarkDotNet, whose every class is reachable by filter:
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*Handoff*'
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- overload bounded|unbounded [seconds]
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- storage ...
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- duckdb ...
if (args is ["overload", var mode, ..])
{
    return await Overload.RunAsync(mode, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10);
}

if (args is ["storage", ..])
{
    return await Conveyor.Benchmarks.Storage.StorageBench.RunAsync(args[1..]);
}

if (args is ["duckdb", ..])
{
    return await Conveyor.Benchmarks.Storage.DuckDbBench.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

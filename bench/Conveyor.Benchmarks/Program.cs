using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is reachable by filter, e.g.
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*Buffer*'
if (args.Length > 0 && args[0] == "storage")
{
    return await Conveyor.Benchmarks.Storage.StorageBench.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;

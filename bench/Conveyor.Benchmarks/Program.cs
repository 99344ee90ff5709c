using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is reachable by filter, e.g.
//   dotnet run -c Release --project bench/Conveyor.Benchmarks -- --filter '*Buffer*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

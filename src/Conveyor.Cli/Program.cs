using Conveyor.Cli.Commands;

return await CommandLine.Build().Parse(args).InvokeAsync().ConfigureAwait(false);

using System.CommandLine;
using Conveyor.Cli.Commands;

// The service host handles SIGTERM/SIGINT itself (stop accepting, drain, report); System.CommandLine's own handler
// would end the process two seconds after the signal, in the middle of the drain.
return await CommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);

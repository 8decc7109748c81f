using Candle.Cli;

// Progress lines go to stderr only when it is a terminal; CANDLE_PROGRESS=0 turns them off.
bool progress = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CANDLE_PROGRESS") != "0";
return CandleCli.Run(args, Console.In, Console.Out, Console.Error, progress);

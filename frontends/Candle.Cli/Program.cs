using Candle.Cli;

return CandleCli.Run(args, Console.Out, Console.Error);

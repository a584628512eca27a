import { maskUrlCredentials } from "./mask-url";

describe("maskUrlCredentials", () => {
  it.each([
    ["redis://user:s3cret@redis.example:6379", "redis://user:***@redis.example:6379"],
    ["redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"],
    ["rediss://default:s3cret@redis.example:6380", "rediss://default:***@redis.example:6380"],
    ["redis://s3cret@127.0.0.1:6379", "redis://***@127.0.0.1:6379"],
    ["redis+cluster://user:s3cret@10.0.0.1:7000,10.0.0.2:7000", "redis+cluster://user:***@10.0.0.1:7000,10.0.0.2:7000"],
    ["rediss+cluster://:s3cret@a:7000,b:7000", "rediss+cluster://:***@a:7000,b:7000"],
    // an unencoded "@" or ":" in the password: all of it is still hidden
    ["redis://user:s3c@ret:x@127.0.0.1:6379", "redis://user:***@127.0.0.1:6379"],
    ["redis://user:s3:cret@127.0.0.1:6379", "redis://user:***@127.0.0.1:6379"],
  ])("masks %s", (url, masked) => {
    expect(maskUrlCredentials(url)).toBe(masked);
    expect(maskUrlCredentials(url)).not.toMatch(/s3c|cret/);
  });

  it.each(["redis://127.0.0.1:6379", "unix:///tmp/payhooks/redis.sock", "redis+cluster://10.0.0.1:7000,10.0.0.2:7000", ""])("leaves %j as it is", (url) => {
    expect(maskUrlCredentials(url)).toBe(url);
  });
});

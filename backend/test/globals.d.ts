// Tests read JSON bodies of our own API and assert on their shape; typing every one would add noise
// without catching anything the assertions don't. Production code never relies on this.
interface Response {
  json(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

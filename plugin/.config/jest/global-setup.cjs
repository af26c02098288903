// Tests format times; pin the zone so they pass anywhere.
module.exports = async () => {
  process.env.TZ = 'UTC';
};

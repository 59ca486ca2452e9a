import fs from 'node:fs';
import { prepareDatabase } from './database.js';
import { parseOptions } from './options.js';
const data = await prepareDatabase(parseOptions([], {}), console.log);
fs.writeFileSync('/tmp/pf/data.json', JSON.stringify({ url: data.url, agents: data.agents.slice(0, 4000), admin: data.admin, userEmails: data.userEmails.slice(0, 50), userPassword: data.userPassword, searchTerms: data.searchTerms }));
console.log('READY', data.url);
process.on('SIGTERM', () => data.stop().then(() => process.exit(0)));
setInterval(() => undefined, 1 << 30);

// require('functions-keyvault') from CommonJS (see load.cjs).
module.exports = require('./load.cjs')(() => require('../dist/index.js'));
